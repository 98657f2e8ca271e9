/// A JSON object checked in one pass and kept as its bytes: what a token's header and claims are.
///
/// `JSONParser.scanObject` validates the whole document exactly as `JSONParser.parse` does
/// (duplicate keys refused at every level, UTF-8 checked, depth and size bounded) but builds no
/// tree: it records, for each top-level member, its key, its kind and where its value's bytes
/// are. A member becomes a `JSONValue` only when something asks for it, so a token whose
/// claims are read as strings and numbers (`iss`, `sub`, `exp`, `scope`, …) is verified without
/// a dictionary or a value tree.
public struct ScannedObject: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: UInt8, Sendable {
        case null, bool, number, string, array, object
    }

    struct Member: Sendable, Hashable {
        let key: String
        /// The value's bytes: `bytes[start..<end]`.
        let start: Int
        let end: Int
        let kind: Kind
        /// A string without escapes: its text is the bytes between the quotes.
        let plain: Bool
    }

    /// The whole document's bytes, as scanned.
    public let bytes: [UInt8]
    let members: [Member]

    init(bytes: [UInt8], members: [Member]) {
        self.bytes = bytes
        self.members = members
    }

    public static let empty = ScannedObject(bytes: Array("{}".utf8), members: [])

    /// The object `value` holds (its compact text, scanned); empty when `value` is not an object.
    public init(_ value: JSONValue) {
        guard case .object = value, let scanned = try? JSONParser.scanObject(Array(value.compactText.utf8)) else {
            self = .empty
            return
        }
        self = scanned
    }

    public var count: Int { members.count }
    public var keys: [String] { members.map(\.key) }

    private func member(_ key: String) -> Member? {
        for member in members where member.key == key { return member }
        return nil
    }

    public func contains(_ key: String) -> Bool { member(key) != nil }

    public func kind(of key: String) -> Kind? { member(key)?.kind }

    /// The member's value, materialised (a nested object or array is parsed here, once per call).
    public subscript(key: String) -> JSONValue? {
        guard let member = member(key) else { return nil }
        return value(of: member)
    }

    /// The member when it is a string; nil when absent or of another kind.
    public func string(_ key: String) -> String? {
        guard let member = member(key), member.kind == .string else { return nil }
        if member.plain { return String(decoding: bytes[(member.start + 1)..<(member.end - 1)], as: UTF8.self) }
        return value(of: member).stringValue
    }

    /// The member when it is a number; nil when absent or of another kind.
    public func number(_ key: String) -> Double? {
        guard let member = member(key), member.kind == .number else { return nil }
        return Double(String(decoding: bytes[member.start..<member.end], as: UTF8.self))
    }

    /// The whole object as a value tree.
    public var value: JSONValue {
        var out: [String: JSONValue] = [:]
        for member in members { out[member.key] = value(of: member) }
        return .object(out)
    }

    public var description: String { value.compactText }

    /// A member's bytes passed the scan, so parsing them again cannot fail; its depth is below
    /// the scan's limit.
    private func value(of member: Member) -> JSONValue {
        switch member.kind {
        case .null: return .null
        case .bool: return .bool(bytes[member.start] == UInt8(ascii: "t"))
        case .number: return .number(String(decoding: bytes[member.start..<member.end], as: UTF8.self))
        case .string where member.plain: return .string(String(decoding: bytes[(member.start + 1)..<(member.end - 1)], as: UTF8.self))
        case .string, .array, .object:
            return (try? JSONParser.parse(bytes[member.start..<member.end], limits: Self.rescan)) ?? .null
        }
    }

    private static let rescan = JSONParser.Limits(maxDepth: 1 << 12, maxBytes: .max)

    /// Two scans are equal when they hold the same members with the same values, however the
    /// documents were spaced or ordered.
    public static func == (a: ScannedObject, b: ScannedObject) -> Bool {
        a.bytes == b.bytes || a.value == b.value
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(value)
    }
}
