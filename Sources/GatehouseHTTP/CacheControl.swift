import NIOHTTP1

/// The one `Cache-Control` directive Gatehouse uses: `max-age` (RFC 9111 5.2.2.1).
public enum CacheControl {
    /// Seconds, clamped to about 68 years. nil when absent, malformed, or given twice with
    /// different values (an ambiguous answer is no answer).
    public static func maxAge(_ headers: HTTPHeaders) -> Int? {
        var found: Int?
        for value in headers["cache-control"] {
            for directive in value.split(separator: ",") {
                let parts = directive.split(separator: "=", maxSplits: 1)
                guard parts.count == 2,
                    parts[0].trimmingSpaces.lowercased() == "max-age"
                else { continue }
                var text = parts[1].trimmingSpaces
                if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") {
                    text = text.dropFirst().dropLast()
                }
                guard let seconds = parseSeconds(text) else { return nil }
                if let found, found != seconds { return nil }
                found = seconds
            }
        }
        return found
    }

    private static func parseSeconds(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        let limit = Int(Int32.max)
        var value = 0
        for b in text.utf8 {
            value = value * 10 + Int(b - UInt8(ascii: "0"))
            if value > limit { return limit }
        }
        return value
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
