/// A deliberately small, strict parser for absolute `scheme://host[:port][/path][?query][#fragment]`
/// URLs: the forms Gatehouse meets in configuration and IdP documents. Anything odd is refused
/// rather than guessed (no scheme-relative URLs, no whitespace, no backslashes, no empty host).
public struct ParsedURL: Sendable, Hashable {
    public var scheme: String
    /// Lower-cased; IPv6 literals without brackets.
    public var host: String
    public var port: Int?
    /// "" or starts with "/".
    public var path: String
    public var query: String?
    public var fragment: String?
    public var hasUserInfo: Bool

    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= 4096 else { return nil }
        for b in text.utf8 where b <= 0x20 || b >= 0x7F || b == UInt8(ascii: "\\") { return nil }
        guard let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") else { return nil }
        let scheme = text[..<colon].lowercased()
        guard let first = scheme.unicodeScalars.first, ParsedURL.isASCIILetter(first),
            scheme.unicodeScalars.allSatisfy(ParsedURL.isSchemeCharacter)
        else { return nil }
        self.scheme = scheme
        var rest = text[text.index(colon, offsetBy: 3)...]
        if let hash = rest.firstIndex(of: "#") {
            fragment = String(rest[rest.index(after: hash)...])
            rest = rest[..<hash]
        }
        if let q = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: q)...])
            rest = rest[..<q]
        }
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        path = String(rest[authorityEnd...])
        hasUserInfo = false
        if let at = authority.lastIndex(of: "@") {
            hasUserInfo = true
            authority = authority[authority.index(after: at)...]
        }
        var hostPart: Substring
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portPart = after.dropFirst()
            }
            guard hostPart.contains(":") else { return nil }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                hostPart = authority[..<colon]
                portPart = authority[authority.index(after: colon)...]
            } else {
                hostPart = authority
            }
            guard !hostPart.contains(":") else { return nil }
        }
        guard !hostPart.isEmpty else { return nil }
        host = hostPart.lowercased()
        if let portPart {
            guard !portPart.isEmpty, portPart.count <= 5, portPart.allSatisfy(\.isASCII),
                let p = Int(portPart), (1...65535).contains(p)
            else { return nil }
            port = p
        }
    }

    private static func isASCIILetter(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z")
    }

    private static func isSchemeCharacter(_ c: Unicode.Scalar) -> Bool {
        isASCIILetter(c) || (c >= "0" && c <= "9") || c == "+" || c == "-" || c == "."
    }

    /// Host and port as sent in a `Host` header.
    public var authority: String {
        let h = host.contains(":") ? "[\(host)]" : host
        guard let port else { return h }
        return "\(h):\(port)"
    }

    public var effectivePort: Int { port ?? (scheme == "https" ? 443 : 80) }

    /// Path and query, as sent in a request line.
    public var requestTarget: String {
        var target = path.isEmpty ? "/" : path
        if let query { target += "?" + query }
        return target
    }
}
