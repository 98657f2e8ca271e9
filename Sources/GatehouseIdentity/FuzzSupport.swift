import GatehouseCore

/// Entry points for the libFuzzer targets in `Fuzz/` (SPI `Fuzzing`, not API): hostile bytes to
/// the token parser and the claim-path reader, with the properties that must hold whatever the
/// input checked by `precondition` (libFuzzer reports a broken one as a finding).
@_spi(Fuzzing)
public enum IdentityFuzzHooks {
    /// A compact JWS from arbitrary bytes: refused or parsed, and a parsed one is consistent
    /// (its signing input is the token's first two parts, its claims are the payload's object).
    public static func compactJWS(_ data: UnsafeRawBufferPointer) {
        let token = String(decoding: data, as: UTF8.self)
        let maxBytes = 8 * 1024
        guard let jws = try? CompactJWS.parse(token, maxBytes: maxBytes) else {
            return
        }
        let bytes = Array(token.utf8)
        precondition(bytes.count <= maxBytes)
        precondition(Array(bytes.prefix(jws.signingInput.count)) == jws.signingInput, "signing input is not the token's prefix")
        precondition(bytes.count > jws.signingInput.count && bytes[jws.signingInput.count] == UInt8(ascii: "."))
        precondition(jws.payload.objectValue != nil && jws.header["alg"]?.stringValue == jws.algorithm)
        precondition(CompactJWS.peekIssuer(token, maxBytes: maxBytes) == jws.claims["iss"]?.stringValue, "peeked issuer differs from the parsed one")
    }

    /// A claim path (the bytes before the first NUL) read, printed back and resolved in a JSON
    /// document (the bytes after it).
    public static func claimPath(_ data: UnsafeRawBufferPointer) {
        let nul = data.firstIndex(of: 0) ?? data.count
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: data[..<nul]), as: UTF8.self)
        guard let path = try? ClaimPath(text) else { return }
        precondition(!path.segments.isEmpty, "a parsed path has segments")
        precondition(path.description == text)
        guard nul < data.count else { return }
        let json = UnsafeRawBufferPointer(rebasing: data[(nul + 1)...])
        guard let document = try? JSONParser.parse(json, limits: JSONParser.Limits(maxDepth: 32, maxBytes: 1 << 16)) else { return }
        _ = path.resolve(in: document)
    }
}
