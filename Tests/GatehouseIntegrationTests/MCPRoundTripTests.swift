import Foundation
import GatehouseCore
import Testing

/// A real MCP round trip through Gatehouse: the official Python MCP SDK as a stateful
/// streamable-HTTP server behind acme, and as a client through `/t/acme/mcp` (docs/request-path.md "What an agent receives", docs/sessions-and-oauth.md "Session binding", docs/status-codes.md "What Gatehouse answers itself").
/// Needs `python3` with the `mcp` package (`python3 -m pip install mcp`).
@Suite(.serialized) struct MCPRoundTripTests {
    static let scripts = repositoryRoot + "/Tests/mcp"

    @Test func identityReachesARealMCPServerAndSessionsStayWithTheirOwner() async throws {
        // The MCP server picks its own free port (0) and reports it: no port race. It starts
        // while the probe below runs (each Python start-up with the SDK costs about a second).
        let server = try BackgroundProcess.start(script: Self.scripts + "/identity_server.py")
        defer { server.stop() }
        let probe = try await ChildProcess.run(["python3", "-c", "import mcp"], timeout: 30)
        guard probe.status == 0, !probe.timedOut else {
            Issue.record("python3 cannot import the MCP SDK (package `mcp`); install it: `python3 -m pip install mcp` — \(probe.stderr)")
            return
        }
        _ = await eventually(within: 30) { server.port != nil || !server.isRunning }
        let upstreamPort = try #require(server.port, "identity_server.py did not print READY; output: \(server.output)")

        try await withHarness({ setup, _, _ in
            let index = try #require(setup.tenants.firstIndex { $0.id.rawValue == "acme" })
            setup.tenants[index].upstreams = [try #require(Upstream(url: "http://127.0.0.1:\(upstreamPort)"))]
        }) { h in
            let url = "http://127.0.0.1:\(h.gatehouse.dataPort)/t/acme/mcp"
            let alice = h.token("alice")
            let bob = h.token("bob")

            // 1. A real MCP client (initialize + tools/call whoami) through Gatehouse, as alice.
            let call = try await Self.client(["call", url, alice])
            let result = try #require(call["result"], "client output: \(call)")
            #expect(result["user_id"] == .string("alice"))
            #expect(result["tenant_id"] == .string("acme"))
            #expect(result["assertion_present"] == .bool(true))
            let sessionID = try #require(call["session_id"]?.stringValue, "no Mcp-Session-Id reached the client: \(call)")
            #expect(!sessionID.isEmpty)

            // 2. bob (same tenant, valid token) replays alice's session id: 404, never forwarded.
            let replay = try await Self.client(["replay", url, bob, sessionID])
            #expect(replay["status"] == .number("404"), "bob replaying alice's session: \(replay)")
            let body = replay["body"]?.stringValue ?? ""
            let error = (try? JSONParser.parse(body))?["error"]
            #expect(error == .string("session_not_found"), "body: \(body)")
            #expect(!body.contains("alice"), "bob saw alice's session: \(body)")

            // 3. alice reusing her own session still works, and it is still her identity upstream.
            let own = try await Self.client(["replay", url, alice, sessionID])
            let ownStatus = own["status"]
            #expect(ownStatus == .number("200") || ownStatus == .number("202"), "alice reusing her session: \(own)")
            #expect(own["body"]?.stringValue?.contains("alice") == true, "alice reusing her session: \(own)")

            // What reached the MCP server: alice's two calls, never one carrying bob. (Its log is
            // one ordered pipe: once alice's second call shows, any bob call before it has too.)
            let both = await eventually(within: 5) { server.calls.count >= 2 }
            #expect(both, "server log: \(server.output)")
            #expect(server.calls.allSatisfy { $0["user_id"] == .string("alice") }, "server log: \(server.output)")
        }
    }

    /// Runs identity_client.py and parses the one JSON line it prints.
    static func client(_ arguments: [String]) async throws -> JSONValue {
        try await ChildProcess.jsonLine(scripts + "/identity_client.py", arguments, timeout: 30)
    }
}
