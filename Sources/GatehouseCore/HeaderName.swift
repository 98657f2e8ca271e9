/// Header-name comparison as the strip rule needs it (docs/request-path.md "Headers a client cannot set"): case-insensitive, with `_`
/// treated as `-`, so `x_user_id` cannot slip past a rule for `X-User-Id` (some servers and
/// CGI-style frameworks fold the two together).
public enum HeaderName {
    /// Lower-cased, `_` replaced by `-`.
    public static func canonical(_ name: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(name.utf8.count)
        for b in name.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): out.append(b + 32)
            case UInt8(ascii: "_"): out.append(UInt8(ascii: "-"))
            default: out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `canonical(name) == canonical`, without allocating (hot path).
    @inlinable
    public static func matches(_ name: String, canonical: String) -> Bool {
        guard name.utf8.count == canonical.utf8.count else { return false }
        for (x, y) in zip(name.utf8, canonical.utf8) {
            var f = x
            if f >= UInt8(ascii: "A") && f <= UInt8(ascii: "Z") { f += 32 } else if f == UInt8(ascii: "_") { f = UInt8(ascii: "-") }
            if f != y { return false }
        }
        return true
    }

    /// True for a valid RFC 9110 field name (token characters only).
    public static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 256 else { return false }
        for b in name.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                continue
            default:
                if !"!#$%&'*+-.^_`|~".utf8.contains(b) { return false }
            }
        }
        return true
    }
}
