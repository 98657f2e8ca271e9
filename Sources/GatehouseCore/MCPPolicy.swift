/// A tenant's MCP settings (tenants/README.md `mcp:`, docs/mcp.md): which requests carry MCP,
/// and which tools a caller may call, decided from the caller's claims and scopes.
public struct MCPPolicy: Sendable, Hashable {
    public enum DefaultAction: String, Sendable, Hashable {
        case deny
        case allow
    }

    /// Request paths (after the tenant prefix is stripped) that carry MCP; nil: every path.
    public var paths: [String]?
    /// Ordered rules on the tool name; the first whose `name` matches decides. Nil: every tool is allowed.
    public var tools: [MCPToolRule]?
    /// When `tools` is given and no rule matches.
    public var defaultAction: DefaultAction
    /// `tools/list` results omit the tools the caller may not call.
    public var filterToolsList: Bool

    public init(paths: [String]? = nil, tools: [MCPToolRule]? = nil, defaultAction: DefaultAction = .deny, filterToolsList: Bool = false) {
        self.paths = paths
        self.tools = tools
        self.defaultAction = defaultAction
        self.filterToolsList = filterToolsList
    }

    /// Whether a request to `path` (after prefix stripping, without its query) is MCP.
    public func covers(path: Substring) -> Bool {
        guard let paths else { return true }
        return paths.contains { $0 == path || ($0.hasSuffix("/") && path.hasPrefix($0)) }
    }

    /// The decision for a call of `tool` by `principal`.
    public func decide(tool: String, principal: Principal) -> MCPDecision {
        guard let tools else { return .allowed(rule: nil) }
        guard let index = tools.firstIndex(where: { MCPGlob.matches($0.name, tool) }) else {
            return defaultAction == .allow ? .allowed(rule: nil) : .forbidden(rule: nil)
        }
        let rule = tools[index]
        if !rule.claims.allSatisfy({ $0.holds(in: principal.claims) }) { return .forbidden(rule: rule.name) }
        let missing = rule.scopes.filter { !principal.scopes.contains($0) }
        if !missing.isEmpty { return .missingScopes(rule.scopes, rule: rule.name) }
        return .allowed(rule: rule.name)
    }
}

/// One `mcp.tools` rule.
public struct MCPToolRule: Sendable, Hashable {
    /// A glob on the tool name: `*` matches any run of characters, `?` exactly one.
    public var name: String
    /// All must hold (the syntax of `idps[].claims`).
    public var claims: [ClaimRule]
    /// All must be granted (`scope` / `scp`).
    public var scopes: [String]

    public init(name: String, claims: [ClaimRule] = [], scopes: [String] = []) {
        self.name = name
        self.claims = claims
        self.scopes = scopes
    }
}

/// What `MCPPolicy.decide` says; `rule` is the matching rule's `name` (its glob), nil for the default.
public enum MCPDecision: Sendable, Hashable {
    case allowed(rule: String?)
    /// The rule's claim conditions do not hold, or no rule matched and the default is `deny`.
    case forbidden(rule: String?)
    /// The rule's claims hold but a scope is missing: the scopes the rule requires.
    case missingScopes([String], rule: String?)

    public var isAllowed: Bool {
        if case .allowed = self { return true }
        return false
    }
}

/// Glob matching on Unicode scalars: `*` any run (also empty), `?` exactly one, everything else itself.
public enum MCPGlob {
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.unicodeScalars)
        let t = Array(text.unicodeScalars)
        var i = 0
        var j = 0
        var star: Int?
        var resume = 0
        // Greedy with one backtrack point: linear in practice, never exponential.
        while j < t.count {
            if i < p.count, p[i] == "?" || (p[i] != "*" && p[i] == t[j]) {
                i += 1
                j += 1
            } else if i < p.count, p[i] == "*" {
                star = i
                resume = j
                i += 1
            } else if let s = star {
                i = s + 1
                resume += 1
                j = resume
            } else {
                return false
            }
        }
        while i < p.count, p[i] == "*" { i += 1 }
        return i == p.count
    }
}

extension ClaimRule {
    /// Whether the rule holds for these claims (docs/request-path.md "Order of checks").
    public func holds(in claims: ScannedObject) -> Bool {
        guard let value = claim.resolve(in: claims) else { return false }
        switch kind {
        case .equals(let expected): return value.semanticallyEquals(expected)
        case .contains(let s): return Self.contains(value, s)
        case .containsAny(let list): return list.contains { Self.contains(value, $0) }
        }
    }

    /// An array holding the string, or a string equal to it or holding it as a space-separated word.
    /// Numbers are not strings: `contains: "5"` does not match `[5]`.
    private static func contains(_ value: JSONValue, _ s: String) -> Bool {
        switch value {
        case .array(let items): return items.contains(.string(s))
        case .string(let text): return text == s || text.split(separator: " ").contains { $0 == s }
        default: return false
        }
    }
}
