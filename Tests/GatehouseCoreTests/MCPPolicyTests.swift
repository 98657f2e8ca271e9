import GatehouseCore
import Testing

@Suite struct MCPPolicyCoreTests {
    @Test func globsMatchRunsAndSingleCharacters() {
        #expect(MCPGlob.matches("*", "") && MCPGlob.matches("*", "anything"))
        #expect(MCPGlob.matches("admin_*", "admin_reset") && !MCPGlob.matches("admin_*", "xadmin_reset"))
        #expect(MCPGlob.matches("read_?oc", "read_doc") && !MCPGlob.matches("read_?oc", "read_oc"))
        #expect(MCPGlob.matches("*_*_*", "a_b_c") && !MCPGlob.matches("*_*_*", "a_b"))
        #expect(MCPGlob.matches("é?", "éü") && !MCPGlob.matches("echo", "Echo"))
        #expect(!MCPGlob.matches(String(repeating: "*a", count: 30) + "b", String(repeating: "a", count: 60)), "no exponential backtracking")
    }

    static func principal(scopes: [String] = [], claims: JSONValue = .object([:])) -> Principal {
        Principal(tenant: TenantID("acme")!, idp: "dev", issuer: "https://i", subject: "alice", clientID: nil, scopes: scopes, claims: claims, expiresAt: 0)
    }

    @Test func theFirstMatchingRuleDecides() throws {
        let policy = MCPPolicy(tools: [
            MCPToolRule(name: "admin_*", claims: [ClaimRule(claim: try ClaimPath("roles"), kind: .contains("admins"))], scopes: ["mcp:admin"]),
            MCPToolRule(name: "echo"),
        ])
        let admin = Self.principal(scopes: ["mcp:admin"], claims: .object(["roles": .array([.string("admins")])]))
        #expect(policy.decide(tool: "admin_reset", principal: admin) == .allowed(rule: "admin_*"))
        #expect(policy.decide(tool: "admin_reset", principal: Self.principal()) == .forbidden(rule: "admin_*"))
        #expect(policy.decide(tool: "admin_reset", principal: Self.principal(claims: .object(["roles": .string("admins")])))
            == .missingScopes(["mcp:admin"], rule: "admin_*"))
        #expect(policy.decide(tool: "echo", principal: Self.principal()) == .allowed(rule: "echo"))
        #expect(policy.decide(tool: "other", principal: admin) == .forbidden(rule: nil), "default deny")
        var open = policy
        open.defaultAction = .allow
        #expect(open.decide(tool: "other", principal: admin) == .allowed(rule: nil))
        #expect(MCPPolicy().decide(tool: "anything", principal: Self.principal()).isAllowed, "no tools: everything allowed")
    }

    @Test func pathsAreExactOrSubtrees() {
        let policy = MCPPolicy(paths: ["/mcp", "/agents/"])
        #expect(policy.covers(path: "/mcp") && !policy.covers(path: "/mcp/x") && !policy.covers(path: "/mcpx"))
        #expect(policy.covers(path: "/agents/a/mcp") && !policy.covers(path: "/agents"))
        #expect(MCPPolicy().covers(path: "/anything"))
    }
}
