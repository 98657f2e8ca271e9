import Foundation
import GatehouseCore
import Testing

/// MCP-aware tenants (docs/mcp.md) with the official Python SDK as server and client, in both
/// protocol versions (`legacy` = 2025-11-25 and `2026-07-28`): tool policy, routing headers
/// against the body, tools/list filtering over JSON and SSE, handles and elicitations bound to
/// their user. Needs `python3` with the `mcp` package (2.x).
@Suite(.serialized) struct MCPPolicyTests {
    static let scripts = repositoryRoot + "/Tests/mcp"
    static let modes = ["legacy", "2026-07-28"]

    /// acme's policy: admin_* needs role admins and scope mcp:admin; echo, whoami, read_doc,
    /// connect_account and progress are open; anything else is denied.
    static let policy = MCPPolicy(
        paths: ["/mcp"],
        tools: [
            MCPToolRule(name: "admin_*", claims: [ClaimRule(claim: try! ClaimPath("roles"), kind: .contains("admins"))], scopes: ["mcp:admin"]),
            MCPToolRule(name: "echo"), MCPToolRule(name: "whoami"), MCPToolRule(name: "read_?oc"), MCPToolRule(name: "connect_*"),
            MCPToolRule(name: "progress"),
        ],
        defaultAction: .deny, filterToolsList: true)

    /// The SDK's server behind acme (MCP-aware), and the harness.
    static func withMCPServer(
        policy: MCPPolicy = policy, _ body: (Harness, BackgroundProcess, String) async throws -> Void
    ) async throws {
        let server = try BackgroundProcess.start(script: scripts + "/policy_server.py")
        defer { server.stop() }
        _ = await eventually(within: 30) { server.port != nil || !server.isRunning }
        let port = try #require(server.port, "policy_server.py did not print READY (is the mcp package 2.x installed?); \(server.output)")
        try await withHarness({ setup, _, agents in
            let index = try #require(setup.tenants.firstIndex { $0.id.rawValue == "acme" })
            setup.tenants[index].upstreams = [try #require(Upstream(url: "http://127.0.0.1:\(port)"))]
            setup.tenants[index].mcp = policy
            setup.tenants[index].sessions = [
                SessionRule(header: "Mcp-Session-Id", issuedBy: .server),
                SessionRule(header: "Mcp-Param-Handle", issuedBy: .client, argument: "handle"),
            ]
            setup.tenants[index].oauth = OAuthSettings(completionURL: agents[0].baseURL + "/oauth/complete", flowTTLSeconds: 600)
        }) { h in
            try await body(h, server, "http://127.0.0.1:\(h.gatehouse.dataPort)/t/acme/mcp")
        }
    }

    static func client(_ mode: String, _ url: String, _ token: String, _ action: [String]) async throws -> JSONValue {
        try await ChildProcess.jsonLine(scripts + "/policy_client.py", [mode, url, token] + action, timeout: 90)
    }

    static func raw(_ url: String, _ arguments: [String]) async throws -> JSONValue {
        try await ChildProcess.jsonLine(scripts + "/raw_mcp.py", [url] + arguments, timeout: 60)
    }

    /// The tool calls that reached the server.
    static func calls(_ server: BackgroundProcess) -> [JSONValue] {
        server.output.split(separator: "\n").filter { $0.hasPrefix("CALL ") }.compactMap { try? JSONParser.parse(String($0.dropFirst(5))) }
    }

    @Test func allowedToolsGoThroughAndRefusedOnesNeverReachTheServer() async throws {
        try await Self.withMCPServer { h, server, url in
            let alice = h.token("alice")
            let admin = h.token("root", scope: "mcp:admin", roles: ["admins"])
            let adminWithoutScope = h.token("carol", roles: ["admins"])
            for mode in Self.modes {
                let echo = try await Self.client(mode, url, alice, ["call", "echo", #"{"text":"hi \#(mode)"}"#])
                #expect(echo["result"] == .string("hi \(mode)"), "\(mode): \(echo)")

                let refused = try await Self.client(mode, url, alice, ["call", "admin_reset", "{}"])
                #expect(refused["status"] == .number("403"), "\(mode): \(refused)")
                #expect(refused["body"]?.stringValue?.contains("tool_forbidden") == true, "\(mode): \(refused)")

                // Claims hold, a scope is missing: the step-up challenge names it.
                let stepUp = try await Self.client(mode, url, adminWithoutScope, ["call", "admin_reset", "{}"])
                #expect(stepUp["status"] == .number("403"), "\(mode): \(stepUp)")
                let challenge = stepUp["www_authenticate"]?.stringValue ?? ""
                #expect(challenge.contains(#"error="insufficient_scope""#) && challenge.contains(#"scope="mcp:admin""#), "\(challenge)")
                #expect(challenge.contains("resource_metadata="), "\(challenge)")

                let allowed = try await Self.client(mode, url, admin, ["call", "admin_reset", "{}"])
                #expect(allowed["result"] == .string("reset"), "\(mode): \(allowed)")

                // No rule for it: the default, deny.
                let unlisted = try await Self.client(mode, url, admin, ["prompt", "greet", #"{"name":"z"}"#])
                #expect(unlisted["result"] != nil, "prompts are not governed by tool rules: \(unlisted)")
            }
            let tools = Self.calls(server).compactMap { $0["tool"]?.stringValue }
            #expect(tools.filter { $0 == "admin_reset" }.count == 2, "only the allowed admin calls reached the server: \(tools)")
            #expect(Self.calls(server).filter { $0["tool"] == .string("admin_reset") }.allSatisfy { $0["user_id"] == .string("root") })
        }
    }

    /// A client must not be able to show the policy one tool and call another.
    @Test func routingHeadersThatDisagreeWithTheBodyAreRefused() async throws {
        try await Self.withMCPServer { h, server, url in
            let token = h.token("alice")
            let call = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_reset","arguments":{}}}"#
            for headers in [["--header", "Mcp-Name:echo"], ["--header", "Mcp-Method:tools/list"], ["--header", "Mcp-Name:echo", "--header", "mcp-name:admin_reset"]] {
                // An explicit --header replaces the one --modern would derive from the body.
                let r = try await Self.raw(url, ["--body", call, "--token", token, "--modern"] + headers)
                #expect(r["status"] == .number("400"), "\(headers): \(r)")
                #expect(r["json"]?["error"] == .string("invalid_request"), "\(r)")
            }
            // base64-encoded Mcp-Name is decoded before it is compared.
            let encoded = try await Self.raw(
                url, ["--body", #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"é"}}}"#, "--token", token, "--modern",
                      "--header", "Mcp-Name:=?base64?ZWNobw==?="])
            #expect(encoded["status"] == .number("200"), "\(encoded)")
            // A JSON body read two ways (duplicate keys) is refused, not guessed.
            let duplicate = try await Self.raw(
                url, ["--body", #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","name":"admin_reset","arguments":{}}}"#, "--token", token])
            #expect(duplicate["status"] == .number("400"), "\(duplicate)")
            // A batch passes only when every call in it does.
            let batch = try await Self.raw(
                url, ["--body", #"[{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a"}}},{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"admin_reset","arguments":{}}}]"#,
                      "--token", token, "--legacy"])
            #expect(batch["status"] == .number("400"), "\(batch)")
            // Over 1 MiB: 413.
            let big = try await Self.raw(url, ["--body", #"{"jsonrpc":"2.0","id":6,"method":"tools/list"}"#, "--token", token, "--pad-to", String((1 << 20) + 10)])
            #expect(big["status"] == .number("413"), "\(big)")
            #expect(!Self.calls(server).contains { $0["tool"] == .string("admin_reset") }, "\(server.output)")
            // Not JSON-RPC POSTs pass as before (the 2025-11-25 GET stream): the server answers them.
            let get = try await Self.raw(url, ["--method", "GET", "--token", token, "--timeout", "3"])
            #expect(get["status"] != .number("401") && get["status"] != nil, "\(get)")
        }
    }

    @Test func toolsListIsFilteredOverJSONAndSSE() async throws {
        try await Self.withMCPServer { h, _, url in
            let alice = h.token("alice")
            let admin = h.token("root", scope: "mcp:admin", roles: ["admins"])
            // legacy answers tools/list as SSE, 2026-07-28 as JSON.
            for mode in Self.modes {
                let seen = try await Self.client(mode, url, alice, ["list"])
                let names = Set(seen["tools"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                #expect(names == ["echo", "whoami", "read_doc", "connect_account", "progress"], "\(mode): \(seen)")
                let all = try await Self.client(mode, url, admin, ["list"])
                #expect(all["tools"]?.arrayValue?.contains(.string("admin_reset")) == true, "\(mode): \(all)")
            }
        }
    }

    @Test func aHandleBoundToAliceIsRefusedForBobInBothProtocolVersions() async throws {
        try await Self.withMCPServer { h, server, url in
            let alice = h.token("alice")
            let bob = h.token("bob")
            for mode in Self.modes {
                let handle = "doc-\(mode)-\(UUID().uuidString.prefix(8))"
                let mine = try await Self.client(mode, url, alice, ["call", "read_doc", #"{"handle":"\#(handle)"}"#])
                #expect(mine["result"]?["handle"] == .string(handle), "\(mode): \(mine)")
                let theirs = try await Self.client(mode, url, bob, ["call", "read_doc", #"{"handle":"\#(handle)"}"#])
                #expect(theirs["status"] == .number("403"), "\(mode): bob used alice's handle: \(theirs)")
                #expect(theirs["body"]?.stringValue?.contains("session_forbidden") == true, "\(theirs)")
                let again = try await Self.client(mode, url, alice, ["call", "read_doc", #"{"handle":"\#(handle)"}"#])
                #expect(again["result"]?["handle"] == .string(handle), "\(mode): \(again)")
            }
            let users = Self.calls(server).filter { $0["tool"] == .string("read_doc") }.map { $0["user_id"] }
            #expect(users.allSatisfy { $0 == .string("alice") } && users.count == 4, "\(server.output)")
            // The header and the argument must agree.
            let mismatch = try await Self.raw(
                url, ["--body", #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_doc","arguments":{"handle":"x-1"}}}"#,
                      "--token", alice, "--modern", "--header", "Mcp-Param-Handle:x-2"])
            #expect(mismatch["status"] == .number("400"), "\(mismatch)")
        }
    }

    /// A URL elicitation becomes a flow only the user whose call produced it can complete: the
    /// `-32042` error of 2025-11-25 (in an SSE answer) and the input-required result of 2026-07-28.
    @Test func anElicitationIsCompletedOnlyByItsUser() async throws {
        try await Self.withMCPServer { h, _, url in
            let alice = h.token("alice")
            let bob = h.token("bob")
            for (mode, via) in [("legacy", "error -32042"), ("2026-07-28", "input_required")] {
                let got = try await Self.client(mode, url, alice, ["elicit"])
                #expect(got["via"] == .string(via), "\(mode): \(got)")
                let id = try #require(got["elicitation"]?["id"]?.stringValue, "\(got)")
                let callback = "/.gatehouse/oauth/callback?session_id=\(id)"
                let sent = OAuthFlowTests.completions(h).count
                // Recorded asynchronously as the answer streamed by: wait until alice's flow exists.
                let ready = await eventually(within: 10) {
                    let probe = try? await h.client.request("GET", "/.gatehouse/oauth/callback?session_id=\(id)&probe=1", host: "acme.test")
                    return probe?.status != 404
                }
                #expect(ready, "\(mode): no flow was recorded for \(id)")
                let stolen = try await h.client.request("GET", callback, headers: [h.bearer(bob)], host: "acme.test")
                #expect(stolen.status >= 400 && stolen.status < 500, "\(mode): bob completed alice's flow: \(stolen.status)")
                #expect(OAuthFlowTests.completions(h).count == sent, "something was sent for bob's callback")
                let completed = try await h.client.request("GET", callback, headers: [h.bearer(alice)], host: "acme.test")
                #expect(completed.status == 200, "\(mode): \(completed.status) \(completed.text)")
                let done = await eventually(within: 10) { OAuthFlowTests.completions(h).count == sent + 1 }
                #expect(done)
                let last = String(decoding: try #require(OAuthFlowTests.completions(h).last).body, as: UTF8.self)
                #expect(last.contains(id) && last.contains("\"sub\":\"alice\""), "\(last)")
            }
        }
    }

    /// A client that waits for `100 Continue` before its body gets it while Gatehouse reads the
    /// body for the policy (it would otherwise wait for ever, or for its own timeout).
    @Test func anMCPBodyBehindExpectContinueIsReadAfterTheGoAhead() async throws {
        try await Self.withMCPServer { h, server, _ in
            let body = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"waited"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}"#
            let head = "POST /t/acme/mcp HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer \(h.token())\r\n"
                + "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
                + "Mcp-Method: tools/call\r\nMcp-Name: echo\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
            let client = h.client
            let text = try await withCheckedThrowingContinuation { (c: CheckedContinuation<String?, Error>) in
                Thread.detachNewThread {
                    do { c.resume(returning: try client.sendExpectingContinue(head: head, body: body)) } catch { c.resume(throwing: error) }
                }
            }
            let final = try #require(text, "no 100 Continue came back")
            #expect(final.hasPrefix("HTTP/1.1 200") && final.contains("waited"), "\(final)")
            #expect(Self.calls(server).contains { $0["tool"] == .string("echo") })
        }
    }
}
