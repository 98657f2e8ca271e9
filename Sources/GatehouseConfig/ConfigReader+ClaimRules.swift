import GatehouseCore

/// `claims:` rules of an IdP and claim paths in general (tenants/README.md).
extension ConfigReader {
    mutating func claimPath(_ value: JSONValue, at path: FieldPath) -> ClaimPath? {
        guard let text = string(value, at: path, maxBytes: InputLimits.maxNameBytes) else { return nil }
        do {
            return try ClaimPath(text)
        } catch {
            fail(path, "is not a valid claim path: \(error.description)")
            return nil
        }
    }

    mutating func claimRules(_ value: JSONValue, at path: FieldPath) -> [ClaimRule]? {
        guard let items = list(value, at: path) else { return nil }
        return checked { r in
            items.enumerated().compactMap { i, item in r.claimRule(item, at: path.index(i)) }
        }
    }

    private mutating func claimRule(_ value: JSONValue, at path: FieldPath) -> ClaimRule? {
        guard let fields = object(value, at: path, allowed: ["claim", "equals", "contains", "contains_any"]) else { return nil }
        let claim = required(fields, "claim").flatMap { claimPath($0, at: fields.path("claim")) }
        let tests = ["equals", "contains", "contains_any"].filter { fields[$0] != nil }
        guard tests.count == 1, let test = tests.first else {
            fail(path, tests.isEmpty ? "needs one of equals, contains or contains_any" : "set exactly one of equals, contains or contains_any (found \(tests.joined(separator: ", ")))")
            return nil
        }
        let testPath = fields.path(test)
        let kind: ClaimRule.Kind?
        switch test {
        case "equals":
            kind = equalsValue(fields[test]!, at: testPath).map { .equals($0) }
        case "contains":
            kind = string(fields[test]!, at: testPath).map { .contains($0) }
        default:
            let options = stringList(fields[test]!, at: testPath)
            if options?.isEmpty == true { fail(testPath, "must list at least one value") }
            kind = options.flatMap { $0.isEmpty ? nil : .containsAny($0) }
        }
        guard let claim, let kind else { return nil }
        return ClaimRule(claim: claim, kind: kind)
    }

    /// A claim compares equal to a string, number or boolean; comparing whole arrays or objects
    /// is almost always a mistake for `contains`.
    private mutating func equalsValue(_ value: JSONValue, at path: FieldPath) -> JSONValue? {
        switch value {
        case .string: return string(value, at: path).map(JSONValue.string)
        case .number, .bool: return value
        default:
            fail(path, "must be a string, number or boolean (use contains or contains_any for lists)")
            return nil
        }
    }
}
