import GatehouseCore

/// A compact-serialised JWS (RFC 7515 section 7.1) split and decoded, nothing verified yet.
struct CompactJWS: Sendable {
    let header: [String: JSONValue]
    /// The payload as an object (what `Principal.claims` carries).
    let payload: JSONValue
    let claims: [String: JSONValue]
    /// `BASE64URL(header) '.' BASE64URL(payload)`: the bytes the signature covers.
    let signingInput: [UInt8]
    let signature: [UInt8]
    /// The header's `alg`, unvalidated.
    let algorithm: String
    let kid: String?

    private static let headerLimits = JSONParser.Limits(maxDepth: 8, maxBytes: 64 * 1024)
    private static let payloadLimits = JSONParser.Limits(maxDepth: 32, maxBytes: 1 << 20)

    /// Refuses anything over `maxBytes` before looking at it, then anything that is not exactly
    /// three strict-base64url parts whose first two are JSON objects.
    static func parse(_ token: String, maxBytes: Int) throws(AuthError) -> CompactJWS {
        let (signingInput, signaturePart) = try split(token, maxBytes: maxBytes)
        guard let dot = signingInput.firstIndex(of: UInt8(ascii: ".")),
            let headerBytes = Base64URL.decode(signingInput[..<dot]),
            let payloadBytes = Base64URL.decode(signingInput[(dot + 1)...]),
            let signature = Base64URL.decode(signaturePart)
        else { throw AuthError.invalid(AuthReason.malformed, "a part is not base64url") }

        guard let header = try json(headerBytes, headerLimits, "header").objectValue else {
            throw AuthError.invalid(AuthReason.malformed, "header is not a JSON object")
        }
        let payload = try json(payloadBytes, payloadLimits, "payload")
        guard let claims = payload.objectValue else {
            throw AuthError.invalid(AuthReason.malformed, "payload is not a JSON object")
        }
        guard let algorithm = header["alg"]?.stringValue else {
            throw AuthError.invalid(AuthReason.malformed, "header has no string alg")
        }
        var kid: String?
        if let k = header["kid"] {
            guard let s = k.stringValue else { throw AuthError.invalid(AuthReason.malformed, "kid is not a string") }
            kid = s
        }
        return CompactJWS(
            header: header, payload: payload, claims: claims, signingInput: signingInput, signature: signature,
            algorithm: algorithm, kid: kid)
    }

    private static func json(_ bytes: [UInt8], _ limits: JSONParser.Limits, _ part: String) throws(AuthError) -> JSONValue {
        do {
            return try JSONParser.parse(bytes, limits: limits)
        } catch {
            throw AuthError.invalid(AuthReason.malformed, "\(part): \(error)")
        }
    }

    /// The unverified `iss`, reading only the payload.
    static func peekIssuer(_ token: String, maxBytes: Int) -> String? {
        guard let (signingInput, _) = try? split(token, maxBytes: maxBytes),
            let dot = signingInput.firstIndex(of: UInt8(ascii: ".")),
            let payloadBytes = Base64URL.decode(signingInput[(dot + 1)...]),
            let payload = try? JSONParser.parse(payloadBytes, limits: payloadLimits)
        else { return nil }
        return payload["iss"]?.stringValue
    }

    /// Signing input and signature part; exactly two dots, non-empty header and payload.
    private static func split(_ token: String, maxBytes: Int) throws(AuthError) -> ([UInt8], ArraySlice<UInt8>) {
        guard token.utf8.count <= maxBytes else {
            throw AuthError.invalid(AuthReason.tooLarge, "token of \(token.utf8.count) bytes (limit \(maxBytes))")
        }
        let bytes = Array(token.utf8)
        var dots: [Int] = []
        for (i, b) in bytes.enumerated() where b == UInt8(ascii: ".") {
            dots.append(i)
            if dots.count > 2 { break }
        }
        guard dots.count == 2, dots[0] > 0, dots[1] > dots[0] + 1 else {
            throw AuthError.invalid(AuthReason.malformed, "not three dot-separated parts")
        }
        return (Array(bytes[..<dots[1]]), bytes[(dots[1] + 1)...])
    }
}
