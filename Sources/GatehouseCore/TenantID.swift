/// A tenant's id: `[a-z0-9][a-z0-9-]{0,62}` (tenants/README.md). Safe to use in paths, logs and metrics.
public struct TenantID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// Nil unless `rawValue` matches the tenant id grammar.
    public init?(_ rawValue: String) {
        guard TenantID.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    public static func < (lhs: TenantID, rhs: TenantID) -> Bool { lhs.rawValue < rhs.rawValue }

    public static func isValid(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        for (i, b) in bytes.enumerated() {
            let alnum = (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            if i == 0 { if !alnum { return false } } else if !(alnum || b == UInt8(ascii: "-")) { return false }
        }
        return true
    }
}
