import Foundation
import GatehouseCore
import Testing

/// The real `gatehouse` binary in front of the SDK's MCP server: every MCP call leaves an access
/// line with its method, tool, protocol version and outcome, and a bounded metric; `check`
/// warns about an MCP tenant that accepts unbound tokens or passes the caller's token on.
@Suite(.serialized) struct MCPAuditTests {
    @Test func theAccessLineAndTheMetricsSayWhatEachCallDid() async throws {
        let server = try BackgroundProcess.start(script: MCPPolicyTests.scripts + "/policy_server.py")
        defer { server.stop() }
        _ = await eventually(within: 30) { server.port != nil || !server.isRunning }
        let mcpPort = try #require(server.port, "policy_server.py did not start: \(server.output)")
        let peers = try await LoopbackPeers.start(agentName: "mcp-audit")
        let dir = try TempDir()
        try dir.writeOperatorConfig()
        try peers.writeAcmeTenant(dir, upstream: "http://127.0.0.1:\(mcpPort)", idpExtra: "    required_scopes: [\"mcp\"]\n", extra: """
            mcp:
              paths: ["/mcp"]
              tools:
                - name: "admin_*"
                  claims:
                    - { claim: "roles", contains: "admins" }
                - name: "*"

            """)

        // check: valid, with the two warnings an MCP tenant like this deserves.
        let check = try await ChildProcess.run([CLITests.binary, "check", "--config", dir.path + "/gatehouse.yaml"], timeout: 60)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("tenants/acme.yaml: idps[0].allowed_audiences: warning:"), "\(check.stdout)")
        #expect(check.stdout.contains("tenants/acme.yaml: authorization: warning:"), "\(check.stdout)")
        #expect(check.stdout.hasSuffix("ok: 1 tenants\n"), "\(check.stdout)")

        let served = try await ServedGatehouse.start(dir)
        defer { _ = served.process.isRunning ? served.process.terminate() : () }
        let (process, stdoutLog, stderrLog, port) = (served.process, served.stdout, served.stderr, served.port)
        #expect(stderrLog.text.contains("configuration warning"), "serve logs the warnings too")
        let url = "http://127.0.0.1:\(port)/t/acme/mcp"
        let alice = peers.idp.mintToken(subject: "alice", scope: "mcp")

        // No token: the challenge names the scope the tenant requires.
        let anonymous = try await MCPPolicyTests.raw(url, ["--body", #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#])
        #expect(anonymous["status"] == .number("401"))
        #expect(anonymous["headers"]?["www-authenticate"]?.stringValue?.contains(#"scope="mcp""#) == true, "\(anonymous)")

        let echo = try await MCPPolicyTests.client("2026-07-28", url, alice, ["call", "echo", #"{"text":"logged"}"#])
        #expect(echo["result"] == .string("logged"), "\(echo)")
        let refused = try await MCPPolicyTests.client("legacy", url, alice, ["call", "admin_reset", "{}"])
        #expect(refused["status"] == .number("403"), "\(refused)")

        let metrics = try await RawClient(port: try #require(served.adminPort)).request("GET", "/metrics")
        #expect(metrics.text.contains(#"gatehouse_mcp_calls_total{tenant="acme",method="tools/call",outcome="allowed"} "#), "\(metrics.text)")
        #expect(metrics.text.contains(#"gatehouse_mcp_calls_total{tenant="acme",method="tools/call",outcome="tool_forbidden"} 1"#))
        #expect(!metrics.text.contains("admin_reset") && !metrics.text.contains("method=\"echo\""), "a tool name became a label")

        // The policy is live: a reload that drops the admin rule lets the call through.
        try dir.write("tenants/acme.yaml", try String(contentsOfFile: dir.path + "/tenants/acme.yaml", encoding: .utf8)
            .replacingOccurrences(of: "    - name: \"admin_*\"\n      claims:\n        - { claim: \"roles\", contains: \"admins\" }\n", with: ""))
        kill(process.processIdentifier, SIGHUP)
        #expect(await eventually(within: 10) { stderrLog.text.contains("tenants reloaded") }, "\(stderrLog.text)")
        let afterReload = try await MCPPolicyTests.client("2026-07-28", url, alice, ["call", "admin_reset", "{}"])
        #expect(afterReload["result"] == .string("reset"), "\(afterReload)")

        #expect(await served.stop())
        let lines = stdoutLog.text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }.filter { $0["type"] == .string("access") }
        let calls = lines.filter { $0["mcp_method"] == .string("tools/call") }
        let allowed = try #require(calls.first { $0["mcp_tool"] == .string("echo") }, "\(stdoutLog.text)")
        #expect(allowed["mcp_protocol_version"] == .string("2026-07-28"))
        #expect(allowed["mcp_outcome"] == .string("allowed") && allowed["mcp_rule"] == .string("*") && allowed["status"] == .number("200"))
        let forbidden = try #require(calls.first { $0["mcp_tool"] == .string("admin_reset") }, "\(stdoutLog.text)")
        #expect(forbidden["mcp_outcome"] == .string("tool_forbidden") && forbidden["mcp_rule"] == .string("admin_*"))
        #expect(forbidden["mcp_protocol_version"] == .string("2025-11-25") && forbidden["status"] == .number("403"))
        #expect(lines.contains { $0["mcp_method"] == .string("initialize") }, "the legacy handshake is logged as MCP too")
        #expect(!stdoutLog.text.contains(alice.prefix(30)), "a token reached the log")
        try await peers.shutdown()
    }
}
