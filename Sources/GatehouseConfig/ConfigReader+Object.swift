import GatehouseCore

/// A map read from a document whose keys have been checked against the known ones.
struct ObjectFields {
    let path: FieldPath
    let members: [String: JSONValue]

    /// The value of `key`, or nil when absent. An explicit null counts as absent, so
    /// `token_use: ~` in YAML and `"token_use": null` in JSON both mean "not set".
    subscript(key: String) -> JSONValue? {
        guard let value = members[key], value != .null else { return nil }
        return value
    }

    func path(_ key: String) -> FieldPath { path.key(key) }
}

extension ConfigReader {
    /// Reads a map. Unknown keys are errors at every level: a misspelt key (`allowed_client`)
    /// would otherwise be silently ignored and leave a rule unenforced.
    mutating func object(_ value: JSONValue, at path: FieldPath, allowed: Set<String>) -> ObjectFields? {
        guard case .object(let members) = value else {
            fail(path, "expected a map, found \(ConfigReader.kind(of: value))")
            return nil
        }
        let unknown = members.keys.filter { !allowed.contains($0) }.sorted()
        for key in unknown.prefix(InputLimits.maxUnknownKeysReported) {
            if let suggestion = KeySuggestion.closest(to: key, in: allowed) {
                failMisspelt(path.key(key), meant: path.key(suggestion), "unknown key (did you mean \(suggestion)?)")
            } else {
                fail(path.key(key), "unknown key")
            }
        }
        if unknown.count > InputLimits.maxUnknownKeysReported {
            fail(path, "\(unknown.count - InputLimits.maxUnknownKeysReported) more unknown keys")
        }
        return ObjectFields(path: path, members: members)
    }

    /// The value of a key that must be present (null counts as missing).
    mutating func required(_ fields: ObjectFields, _ key: String) -> JSONValue? {
        guard let value = fields[key] else {
            fail(fields.path(key), "is required")
            return nil
        }
        return value
    }
}

/// "Did you mean …?" for unknown keys: the nearest known key within two edits, else the only
/// known key that starts with the typed one.
enum KeySuggestion {
    static func closest(to key: String, in candidates: Set<String>) -> String? {
        let typed = Array(key.lowercased().utf8)
        guard typed.count <= 64 else { return nil }
        var best: (name: String, distance: Int)?
        for candidate in candidates.sorted() {
            let d = distance(typed, Array(candidate.utf8))
            if d <= 2, d < (best?.distance ?? Int.max) { best = (candidate, d) }
        }
        if let best { return best.name }
        // `clock_skew` for `clock_skew_seconds`: a shortened key is a typo too.
        let extensions = candidates.filter { typed.count >= 4 && $0.utf8.starts(with: typed) }
        return extensions.count == 1 ? extensions.first : nil
    }

    private static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
