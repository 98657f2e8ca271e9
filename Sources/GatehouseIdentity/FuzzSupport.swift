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
        precondition(jws.header.string("alg") == jws.algorithm)
        precondition(CompactJWS.peekIssuer(token, maxBytes: maxBytes) == jws.claims.string("iss"), "peeked issuer differs from the parsed one")
    }

    /// A claim path (the bytes before the first NUL) read, printed back and resolved in a JSON
    /// document (the bytes after it), which the tree parser and the one-pass scanner must read alike.
    public static func claimPath(_ data: UnsafeRawBufferPointer) {
        let nul = data.firstIndex(of: 0) ?? data.count
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: data[..<nul]), as: UTF8.self)
        guard let path = try? ClaimPath(text) else { return }
        precondition(!path.segments.isEmpty, "a parsed path has segments")
        precondition(path.description == text)
        guard nul < data.count else { return }
        let json = UnsafeRawBufferPointer(rebasing: data[(nul + 1)...])
        let limits = JSONParser.Limits(maxDepth: 32, maxBytes: 1 << 16)
        let document = try? JSONParser.parse(json, limits: limits)
        // The one-pass scanner (what tokens are read with) agrees with the tree parser.
        let scanned: ScannedObject??
        do { scanned = .some(try JSONParser.scanObject(json, limits: limits)) } catch { scanned = .none }
        precondition((document == nil) == (scanned == nil), "the scanner and the parser disagree on validity")
        guard let document else { return }
        precondition((document.objectValue != nil) == (scanned! != nil), "the scanner and the parser disagree on the kind")
        if let object = scanned! {
            precondition(object.value == document, "the scanned object is not the parsed one")
            precondition(path.resolve(in: object) == path.resolve(in: document), "a path resolves differently when scanned")
        }
        _ = path.resolve(in: document)
    }
}
