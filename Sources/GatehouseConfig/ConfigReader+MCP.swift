import GatehouseCore

/// A tenant's `mcp:` section (tenants/README.md "MCP", docs/mcp.md) -> `MCPPolicy`.
extension ConfigReader {
    static let mcpKeys: Set<String> = ["paths", "tools", "default", "filter_tools_list"]
    static let mcpToolKeys: Set<String> = ["name", "claims", "scopes"]
    /// Rules per tenant: evaluated in order on every tool call.
    static let maxMCPToolRules = 256

    mutating func mcpPolicy(_ value: JSONValue, at path: FieldPath) -> MCPPolicy? {
        // `mcp: {}` (or `mcp:` with nothing under it) turns MCP handling on with no rule.
        if case .null = value { return MCPPolicy() }
        guard let fields = object(value, at: path, allowed: ConfigReader.mcpKeys) else { return nil }
        return checked { r in
            var policy = MCPPolicy()
            if let v = fields["paths"], let paths = r.stringList(v, at: fields.path("paths"), maxBytes: InputLimits.maxNameBytes) {
                for (i, p) in paths.enumerated() where !p.hasPrefix("/") || p.contains("?") || p.contains("#") || p.contains(" ") {
                    r.fail(fields.path("paths").index(i), "must be a path starting with '/' (no query, fragment or space; end it with '/' to cover everything below)")
                }
                if paths.isEmpty { r.fail(fields.path("paths"), "must list at least one path (leave it out to cover every path)") }
                policy.paths = paths
            }
            if let v = fields["tools"], let items = r.list(v, at: fields.path("tools"), maxCount: ConfigReader.maxMCPToolRules) {
                policy.tools = items.enumerated().compactMap { i, item in r.mcpToolRule(item, at: fields.path("tools").index(i)) }
            }
            if let v = fields["default"], let text = r.string(v, at: fields.path("default"), maxBytes: 16) {
                if let action = MCPPolicy.DefaultAction(rawValue: text) {
                    policy.defaultAction = action
                } else {
                    r.fail(fields.path("default"), "must be deny or allow")
                }
                if policy.tools == nil, fields["tools"] == nil {
                    r.fail(fields.path("default"), "applies only with tools: (without tools every tool is allowed)")
                }
            }
            if let v = fields["filter_tools_list"], let b = r.bool(v, at: fields.path("filter_tools_list")) {
                policy.filterToolsList = b
            }
            return policy
        }
    }

    private mutating func mcpToolRule(_ value: JSONValue, at path: FieldPath) -> MCPToolRule? {
        guard let fields = object(value, at: path, allowed: ConfigReader.mcpToolKeys) else { return nil }
        let name = required(fields, "name").flatMap { string($0, at: fields.path("name"), maxBytes: InputLimits.maxNameBytes) }
        if let name, name.isEmpty || name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            fail(fields.path("name"), "must be a non-empty glob (* any run of characters, ? one) without control characters")
            return nil
        }
        let claims = fields["claims"].map { claimRules($0, at: fields.path("claims")) } ?? []
        let scopes = fields["scopes"].flatMap { stringList($0, at: fields.path("scopes"), maxBytes: InputLimits.maxNameBytes) } ?? []
        for (i, scope) in scopes.enumerated() where scope.isEmpty || scope.utf8.contains(where: { $0 <= 0x20 || $0 == 0x22 || $0 == 0x5C || $0 >= 0x7F }) {
            // A scope is a space-separated token in the token's claim and in WWW-Authenticate (RFC 6749 3.3).
            fail(fields.path("scopes").index(i), "must be a scope token (printable ASCII, no space, quote or backslash)")
        }
        guard let name, let claims else { return nil }
        return MCPToolRule(name: name, claims: claims, scopes: scopes)
    }
}
