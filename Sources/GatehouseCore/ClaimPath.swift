/// A path into a token's claims, as written in tenant files (tenants/README.md):
/// dot-separated names, `[N]` array indexes, `['…']` quoted names (for names holding dots,
/// slashes or brackets). A name with a colon (`custom:tenant_id`) needs no quotes.
public struct ClaimPath: Sendable, Hashable, CustomStringConvertible {
    public enum Segment: Sendable, Hashable {
        case name(String)
        case index(Int)
    }

    public let segments: [Segment]
    /// The path as written.
    public let description: String

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init(_ text: String) throws(ParseError) {
        self.description = text
        self.segments = try ClaimPath.parse(text)
    }

    private static func parse(_ text: String) throws(ParseError) -> [Segment] {
        let chars = Array(text.unicodeScalars)
        guard !chars.isEmpty else { throw ParseError(description: "empty claim path") }
        var segments: [Segment] = []
        var i = 0
        var expectName = true  // at the start or after a dot
        while i < chars.count {
            let c = chars[i]
            if c == "[" {
                i += 1
                guard i < chars.count else { throw ParseError(description: "unterminated '[' in \(text)") }
                if chars[i] == "'" || chars[i] == "\"" {
                    let quote = chars[i]
                    i += 1
                    var name = String.UnicodeScalarView()
                    while i < chars.count, chars[i] != quote {
                        name.append(chars[i])
                        i += 1
                    }
                    guard i + 1 < chars.count, chars[i + 1] == "]" else {
                        throw ParseError(description: "unterminated quoted name in \(text)")
                    }
                    guard !name.isEmpty else { throw ParseError(description: "empty quoted name in \(text)") }
                    segments.append(.name(String(name)))
                    i += 2
                } else {
                    var digits = ""
                    while i < chars.count, chars[i] != "]" {
                        digits.unicodeScalars.append(chars[i])
                        i += 1
                    }
                    guard i < chars.count, let n = Int(digits), n >= 0, digits.allSatisfy(\.isASCII) else {
                        throw ParseError(description: "array index must be a non-negative number in \(text)")
                    }
                    segments.append(.index(n))
                    i += 1
                }
                expectName = false
                continue
            }
            if c == "." {
                guard !expectName else { throw ParseError(description: "empty name in \(text)") }
                expectName = true
                i += 1
                continue
            }
            if c == "]" || c == "'" || c == "\"" {
                throw ParseError(description: "unexpected '\(c)' in \(text)")
            }
            guard expectName else { throw ParseError(description: "expected '.' or '[' in \(text)") }
            var name = String.UnicodeScalarView()
            while i < chars.count, chars[i] != ".", chars[i] != "[" {
                if chars[i] == "]" || chars[i] == "'" || chars[i] == "\"" {
                    throw ParseError(description: "unexpected '\(chars[i])' in \(text)")
                }
                name.append(chars[i])
                i += 1
            }
            segments.append(.name(String(name)))
            expectName = false
        }
        if expectName { throw ParseError(description: "path ends with '.' in \(text)") }
        return segments
    }

    /// The value at this path, or nil when any step is absent or of the wrong kind.
    public func resolve(in root: JSONValue) -> JSONValue? {
        Self.resolve(segments[...], in: root)
    }

    /// The value at this path in a scanned object: only the top-level member it names is
    /// materialised.
    public func resolve(in root: ScannedObject) -> JSONValue? {
        guard case .name(let first) = segments.first, let member = root[first] else { return nil }
        return Self.resolve(segments.dropFirst(), in: member)
    }

    private static func resolve(_ segments: ArraySlice<Segment>, in root: JSONValue) -> JSONValue? {
        var current = root
        for segment in segments {
            switch segment {
            case .name(let name):
                guard case .object(let members) = current, let next = members[name] else { return nil }
                current = next
            case .index(let n):
                guard case .array(let items) = current, n < items.count else { return nil }
                current = items[n]
            }
        }
        return current
    }
}
