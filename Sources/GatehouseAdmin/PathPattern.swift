import GatehouseHTTP

/// A route path such as `/admin/v1/tenants/{t}/idps/{name}`: literal segments and `{param}`
/// segments, each matching exactly one non-empty path segment.
public struct PathPattern: Sendable, Hashable, CustomStringConvertible {
    enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
    }

    let segments: [Segment]
    public let description: String

    /// Refuses (nil) a pattern that does not start with `/`, has an empty segment, a malformed
    /// `{…}` or the same parameter twice.
    public init?(_ text: String) {
        guard text.hasPrefix("/") else { return nil }
        var segments: [Segment] = []
        var names: Set<String> = []
        if text != "/" {
            for part in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
                guard !part.isEmpty else { return nil }
                if part.hasPrefix("{") {
                    guard part.hasSuffix("}"), part.count > 2 else { return nil }
                    let name = String(part.dropFirst().dropLast())
                    guard !name.contains("{"), !name.contains("}"), names.insert(name).inserted else { return nil }
                    segments.append(.parameter(name))
                } else {
                    guard !part.contains("{"), !part.contains("}") else { return nil }
                    segments.append(.literal(String(part)))
                }
            }
        }
        self.segments = segments
        self.description = text
    }

    /// The parameters when `path` (raw, not yet percent-decoded) matches; values are decoded
    /// after splitting, so an encoded `/` stays inside its segment.
    public func match(_ path: String) -> RouteParameters? {
        guard path.hasPrefix("/") else { return nil }
        let parts = path == "/" ? [] : path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == segments.count else { return nil }
        var values: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let literal):
                guard part == literal else { return nil }
            case .parameter(let name):
                guard !part.isEmpty, let decoded = PathPattern.percentDecode(part) else { return nil }
                values[name] = decoded
            }
        }
        return RouteParameters(values)
    }

    /// Strict: a malformed escape or invalid UTF-8 is no match rather than a guess.
    static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var it = Array(text.utf8)[...]
        while let b = it.popFirst() {
            guard b == UInt8(ascii: "%") else {
                bytes.append(b)
                continue
            }
            guard it.count >= 2, let hi = hex(it[it.startIndex]), let lo = hex(it[it.startIndex + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            it = it.dropFirst(2)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Values of a route's `{param}` segments, percent-decoded.
public struct RouteParameters: Sendable, Hashable {
    private let values: [String: String]

    public init(_ values: [String: String] = [:]) { self.values = values }

    public subscript(_ name: String) -> String? { values[name] }
}
