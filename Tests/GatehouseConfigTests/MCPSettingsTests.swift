import Foundation
import GatehouseCore
import Testing
@testable import GatehouseConfig

/// A tenant's `mcp:` section and the session rules' `argument` (tenants/README.md "mcp").
@Suite struct MCPSettingsTests {
    @Test func everyMCPFieldIsRead() throws {
        let yaml = Fixture.tenant([
            "mcp": """
                { paths: ["/mcp", "/agents/"], default: allow, filter_tools_list: true,
                  tools: [ { name: "admin_*", claims: [ { claim: "roles", contains: "admins" } ], scopes: ["mcp:admin"] }, { name: "*" } ] }
                """,
            "sessions": #"[ { header: "Mcp-Param-Handle", issued_by: client, argument: handle } ]"#,
        ])
        let tenant = try #require(Fixture.parse(yaml).value, "\(Fixture.problems(yaml))")
        let mcp = try #require(tenant.mcp)
        #expect(mcp.paths == ["/mcp", "/agents/"] && mcp.defaultAction == .allow && mcp.filterToolsList)
        #expect(mcp.tools == [
            MCPToolRule(name: "admin_*", claims: [ClaimRule(claim: try ClaimPath("roles"), kind: .contains("admins"))], scopes: ["mcp:admin"]),
            MCPToolRule(name: "*"),
        ])
        #expect(tenant.sessions == [SessionRule(header: "Mcp-Param-Handle", issuedBy: .client, argument: "handle")])
        #expect(try #require(Fixture.parse(Fixture.tenant(["mcp": "{}"])).value).mcp == MCPPolicy())
        #expect(try #require(Fixture.parse(Fixture.tenant()).value).mcp == nil)
    }

    @Test func mistakesAreReportedWithTheirPath() {
        let cases: [(String, String)] = [
            ("{ tool: [] }", "mcp.tool"),
            (#"{ paths: ["mcp"] }"#, "mcp.paths[0]"),
            (#"{ paths: ["/mcp?x=1"] }"#, "mcp.paths[0]"),
            ("{ paths: [] }", "mcp.paths"),
            (#"{ tools: [ { claims: [] } ] }"#, "mcp.tools[0].name"),
            (#"{ tools: [ { name: "" } ] }"#, "mcp.tools[0].name"),
            (#"{ tools: [ { name: "a", scopes: ["with space"] } ] }"#, "mcp.tools[0].scopes[0]"),
            (#"{ tools: [ { name: "a", claims: [ { claim: "x" } ] } ] }"#, "mcp.tools[0].claims[0]"),
            (#"{ tools: [ { name: "a", role: x } ] }"#, "mcp.tools[0].role"),
            (#"{ tools: [], default: maybe }"#, "mcp.default"),
            ("{ default: deny }", "mcp.default"),
            ("{ filter_tools_list: 3 }", "mcp.filter_tools_list"),
        ]
        for (value, path) in cases {
            let problems = Fixture.problems(Fixture.tenant(["mcp": value]))
            #expect(problems.contains { $0.description.contains("tenants/acme.yaml: \(path)") }, "\(value): \(problems)")
        }
        let server = Fixture.problems(Fixture.tenant(["sessions": #"[ { header: "Mcp-Session-Id", issued_by: server, argument: id } ]"#]))
        #expect(server.contains { $0.description.contains("sessions[0].argument") }, "\(server)")
    }

    @Test func checkWarnsAboutUnboundTokensAndPassthroughOnMCPTenants() throws {
        let unsafe = try #require(Fixture.parse(Fixture.tenant(["mcp": "{}"])).value)
        var safe = unsafe
        safe.idps[0].allowedAudiences = ["https://tools.example.com/mcp"]
        safe.authorization = .drop
        let plain = try #require(Fixture.parse(Fixture.tenant()).value)
        let warnings = ConfigWarnings.of(ConfigSnapshot(settings: GatehouseSettings(), tenants: [unsafe]))
        #expect(warnings.count == 2, "\(warnings)")
        #expect(warnings.contains { $0.hasPrefix("tenants/acme.yaml: idps[0].allowed_audiences: warning:") })
        #expect(warnings.contains { $0.hasPrefix("tenants/acme.yaml: authorization: warning:") })
        #expect(ConfigWarnings.of(ConfigSnapshot(settings: GatehouseSettings(), tenants: [safe])).isEmpty)
        #expect(ConfigWarnings.of(ConfigSnapshot(settings: GatehouseSettings(), tenants: [plain])).isEmpty, "only MCP tenants")
    }

    @Test func theMCPExamplePassesWithoutWarnings() throws {
        let result = ConfigLoader.load(configFile: ExampleConfigTests.repoRoot + "/examples/mcp/gatehouse.yaml", environment: [:])
        if case .failure(let problems) = result { Issue.record("\(problems)") }
        let snapshot = try #require(result.value)
        let tenant = try #require(snapshot.tenants[TenantID("tools")!])
        #expect(tenant.mcp?.filterToolsList == true && tenant.mcp?.tools?.first?.name == "admin_*")
        #expect(tenant.authorization == .drop)
        #expect(ConfigWarnings.of(snapshot).isEmpty, "\(ConfigWarnings.of(snapshot))")
    }
}
