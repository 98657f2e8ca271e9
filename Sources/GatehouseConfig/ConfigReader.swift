import GatehouseCore

/// Reads typed values out of a parsed document (YAML converted to `JSONValue`, or admin JSON)
/// and collects every problem instead of stopping at the first, so one `check` run shows them all.
struct ConfigReader {
    /// Shown as the problem's file.
    let file: String
    private(set) var problems: [ConfigProblem] = []
    /// The known keys that unknown ones were probably meant to be ("did you mean …?"): a
    /// misspelt `tenant_dir` leaves `tenants_dir` as unknown as a broken value would.
    private(set) var misspeltKeys: [FieldPath] = []
    /// Settings a tenant file is not checked against because `gatehouse.yaml` failed to give them.
    var unsettled = UnsettledSettings()

    init(file: String) {
        self.file = file
    }

    mutating func fail(_ path: FieldPath, _ message: String) {
        problems.append(ConfigProblem(file: file, path: path.description, message: message))
    }

    mutating func failMisspelt(_ path: FieldPath, meant: FieldPath, _ message: String) {
        fail(path, message)
        misspeltKeys.append(meant)
    }

    mutating func absorb(_ other: [ConfigProblem]) {
        problems.append(contentsOf: other)
    }

    /// Runs `body` and returns its value only if it added no problem: a partly valid object is
    /// never handed on.
    mutating func checked<T>(_ body: (inout ConfigReader) -> T?) -> T? {
        let before = problems.count
        let value = body(&self)
        return problems.count == before ? value : nil
    }

    static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: "nothing"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "a map"
        }
    }

    // MARK: Scalars

    mutating func string(_ value: JSONValue, at path: FieldPath, maxBytes: Int = InputLimits.maxStringBytes) -> String? {
        guard case .string(let s) = value else {
            let hint = if case .number = value { " (put it in quotes)" } else if case .bool = value { " (put it in quotes)" } else { "" }
            fail(path, "expected a string, found \(ConfigReader.kind(of: value))\(hint)")
            return nil
        }
        guard !s.isEmpty else {
            fail(path, "must not be empty")
            return nil
        }
        guard s.utf8.count <= maxBytes else {
            fail(path, "must be at most \(maxBytes) bytes long")
            return nil
        }
        guard !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            fail(path, "must not contain control characters")
            return nil
        }
        return s
    }

    mutating func integer(_ value: JSONValue, at path: FieldPath, in range: ClosedRange<Int>) -> Int? {
        guard case .number(let text) = value else {
            fail(path, "expected a whole number, found \(ConfigReader.kind(of: value))")
            return nil
        }
        guard let n = Int(text) else {
            fail(path, "expected a whole number, found \(FieldPath.quoted(text))")
            return nil
        }
        return inRange(n, range, at: path)
    }

    mutating func number(_ value: JSONValue, at path: FieldPath, in range: ClosedRange<Double>) -> Double? {
        guard case .number(let text) = value, let n = Double(text), n.isFinite else {
            fail(path, "expected a number, found \(ConfigReader.kind(of: value))")
            return nil
        }
        return inRange(n, range, at: path)
    }

    mutating func bool(_ value: JSONValue, at path: FieldPath) -> Bool? {
        guard case .bool(let b) = value else {
            fail(path, "expected true or false, found \(ConfigReader.kind(of: value))")
            return nil
        }
        return b
    }

    private mutating func inRange<N: Comparable>(_ n: N, _ range: ClosedRange<N>, at path: FieldPath) -> N? {
        if n < range.lowerBound {
            fail(path, "must be at least \(range.lowerBound)")
            return nil
        }
        if n > range.upperBound {
            fail(path, "must be at most \(range.upperBound)")
            return nil
        }
        return n
    }

    // MARK: Lists

    /// The list's items, or nil (with a problem) when it is not a list or is longer than `maxCount`:
    /// an oversized list is refused whole, before any of it is looked at.
    mutating func list(_ value: JSONValue, at path: FieldPath, maxCount: Int = InputLimits.maxListEntries) -> [JSONValue]? {
        guard case .array(let items) = value else {
            fail(path, "expected a list, found \(ConfigReader.kind(of: value))")
            return nil
        }
        guard items.count <= maxCount else {
            fail(path, "must have at most \(maxCount) entries (found \(items.count))")
            return nil
        }
        return items
    }

    mutating func stringList(
        _ value: JSONValue, at path: FieldPath, maxCount: Int = InputLimits.maxListEntries,
        maxBytes: Int = InputLimits.maxStringBytes
    ) -> [String]? {
        guard let items = list(value, at: path, maxCount: maxCount) else { return nil }
        return checked { reader in
            items.enumerated().compactMap { i, item in reader.string(item, at: path.index(i), maxBytes: maxBytes) }
        }
    }
}
