import GatehouseCore

/// A `KEY.PATH` into a config document, as shown in problems: `idps[0].claims[1].claim`.
struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    let description: String

    static let root = FieldPath(description: "")

    func key(_ name: String) -> FieldPath {
        guard FieldPath.isPlain(name) else {
            return FieldPath(description: description + "[\(FieldPath.quoted(name, limit: 64))]")
        }
        return FieldPath(description: description.isEmpty ? name : description + "." + name)
    }

    func index(_ i: Int) -> FieldPath { FieldPath(description: description + "[\(i)]") }

    /// Keys made of these characters print bare; anything else (dots, spaces, control characters
    /// from hostile input) prints quoted, so a path can always be read back unambiguously.
    private static func isPlain(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 64 else { return false }
        return name.utf8.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ":")
        }
    }

    /// A value as it may appear in a message: JSON-quoted (control characters escaped) and
    /// shortened, so hostile input cannot forge log lines or flood output.
    static func quoted(_ value: String, limit: Int = 80) -> String {
        let shortened = value.count > limit ? String(value.prefix(limit)) + "…" : value
        return JSONValue.quoted(shortened)
    }
}
