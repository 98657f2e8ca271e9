import GatehouseCore

/// A compact-serialised JWS (RFC 7515 section 7.1) split and decoded, nothing verified yet.
struct CompactJWS: Sendable {
    /// The header and the payload, each scanned in one pass (no value tree).
    let header: ScannedObject
    /// The payload's object: what `Principal.claims` carries.
    let claims: ScannedObject
    /// `BASE64URL(header) '.' BASE64URL(payload)`: the bytes the signature covers.
    let signingInput: [UInt8]
    let signature: [UInt8]
    /// The header's `alg`, unvalidated.
    let algorithm: String
    let kid: String?

    private static let headerLimits = JSONParser.Limits(maxDepth: 8, maxBytes: 64 * 1024)
    private static let payloadLimits = JSONParser.Limits(maxDepth: 32, maxBytes: 1 << 20)

    /// Refuses anything over `maxBytes` before looking at it, then anything that is not exactly
    /// three strict-base64url parts whose first two are JSON objects. The token's bytes are read
    /// in place: one scan for the dots, each part decoded straight from them, one copy (the
    /// signing input).
    static func parse(_ token: String, maxBytes: Int) throws(AuthError) -> CompactJWS {
        let parts = try decodedParts(token, maxBytes: maxBytes)
        guard let header = try scan(parts.header, headerLimits, "header") else {
            throw AuthError.invalid(AuthReason.malformed, "header is not a JSON object")
        }
        guard let claims = try scan(parts.payload, payloadLimits, "payload") else {
            throw AuthError.invalid(AuthReason.malformed, "payload is not a JSON object")
        }
        guard let algorithm = header.string("alg") else {
            throw AuthError.invalid(AuthReason.malformed, "header has no string alg")
        }
        var kid: String?
        if header.contains("kid") {
            guard let s = header.string("kid") else { throw AuthError.invalid(AuthReason.malformed, "kid is not a string") }
            kid = s
        }
        return CompactJWS(
            header: header, claims: claims, signingInput: parts.signingInput, signature: parts.signature,
            algorithm: algorithm, kid: kid)
    }

    private struct Parts {
        var header: [UInt8] = []
        var payload: [UInt8] = []
        var signingInput: [UInt8] = []
        var signature: [UInt8] = []
    }

    private enum Split {
        case parts(Parts)
        case notThreeParts
        case notBase64URL
    }

    /// Exactly two dots, non-empty header and payload, each part strict base64url.
    private static func decodedParts(_ token: String, maxBytes: Int) throws(AuthError) -> Parts {
        let length = token.utf8.count
        guard length <= maxBytes else {
            throw AuthError.invalid(AuthReason.tooLarge, "token of \(length) bytes (limit \(maxBytes))")
        }
        var copy = token
        let split = copy.withUTF8 { bytes -> Split in
            var first = -1
            var second = -1
            for i in 0..<bytes.count where bytes[i] == UInt8(ascii: ".") {
                if first < 0 {
                    first = i
                } else if second < 0 {
                    second = i
                } else {
                    return .notThreeParts
                }
            }
            guard first > 0, second > first + 1 else { return .notThreeParts }
            func part(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: bytes[range]) }
            guard let header = Base64URL.decode(part(0..<first)),
                let payload = Base64URL.decode(part((first + 1)..<second)),
                let signature = Base64URL.decode(part((second + 1)..<bytes.count))
            else { return .notBase64URL }
            return .parts(Parts(header: header, payload: payload, signingInput: Array(part(0..<second)), signature: signature))
        }
        switch split {
        case .parts(let parts): return parts
        case .notThreeParts: throw AuthError.invalid(AuthReason.malformed, "not three dot-separated parts")
        case .notBase64URL: throw AuthError.invalid(AuthReason.malformed, "a part is not base64url")
        }
    }

    /// The part's object; nil when it is JSON but not an object.
    private static func scan(_ bytes: [UInt8], _ limits: JSONParser.Limits, _ part: String) throws(AuthError) -> ScannedObject? {
        do {
            return try JSONParser.scanObject(bytes, limits: limits)
        } catch {
            throw AuthError.invalid(AuthReason.malformed, "\(part): \(error)")
        }
    }

    /// The unverified `iss`, reading only the payload.
    static func peekIssuer(_ token: String, maxBytes: Int) -> String? {
        guard let parts = try? decodedParts(token, maxBytes: maxBytes),
            let payload = try? JSONParser.scanObject(parts.payload, limits: payloadLimits)
        else { return nil }
        return payload.string("iss")
    }
}
