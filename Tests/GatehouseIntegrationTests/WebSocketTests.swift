import Foundation
import GatehouseCore
import Testing

/// WebSocket through Gatehouse (docs/http.md "WebSocket"): the `websockets` Python package as
/// the agent and as the client. The handshake is a request like any other — authenticated,
/// stripped, propagated, routed with its tenant's session rules — and after the agent's `101`
/// the connection is a tunnel. Needs `python3` with `websockets` (`python3 -m pip install websockets`).
@Suite(.serialized) struct WebSocketTests {
    static let scripts = repositoryRoot + "/Tests/websocket"

    /// The WebSocket agent on a port of its own, and a harness whose acme tenant routes to it.
    static func withWebSocketAgent(_ body: (Harness, BackgroundProcess, String) async throws -> Void) async throws {
        let server = try BackgroundProcess.start(script: scripts + "/ws_server.py")
        defer { server.stop() }
        _ = await eventually(within: 30) { server.port != nil || !server.isRunning }
        let port = try #require(server.port, "ws_server.py did not print READY (is `websockets` installed?); \(server.output)")
        try await withHarness({ setup, _, _ in
            let index = try #require(setup.tenants.firstIndex { $0.id.rawValue == "acme" })
            setup.tenants[index].upstreams = [try #require(Upstream(url: "http://127.0.0.1:\(port)"))]
        }) { h in
            try await body(h, server, "ws://127.0.0.1:\(h.gatehouse.dataPort)/t/acme")
        }
    }

    static func client(_ arguments: [String]) async throws -> JSONValue {
        try await ChildProcess.jsonLine(scripts + "/ws_client.py", arguments, timeout: 60)
    }

    static func handshakes(_ server: BackgroundProcess) -> [JSONValue] {
        server.output.split(separator: "\n").filter { $0.hasPrefix("HANDSHAKE ") }.compactMap {
            try? JSONParser.parse(String($0.dropFirst("HANDSHAKE ".count)))
        }
    }

    @Test func identityReachesTheAgentAndMessagesFlowBothWays() async throws {
        try await Self.withWebSocketAgent { h, server, base in
            let big = 3 << 20
            let result = try await Self.client([
                base + "/chat", h.token("alice"), "--header", "X-User-Id:mallory", "--header", "x_user_id:mallory",
                "--header", "X-Tenant-Id:globex", "--send", "hello", "--send", "{\"n\":2}", "--send-size", String(big),
            ])
            #expect(result["status"] == .number("101"), "\(result)")
            let headers = result["hello"]?["headers"]
            #expect(headers?["x-user-id"] == .array([.string("alice")]), "the agent saw \(String(describing: headers))")
            #expect(headers?["x-tenant-id"] == .array([.string("acme")]))
            #expect(headers?["x_user_id"] == nil, "a look-alike of an identity header reached the agent")
            #expect(headers?["x-gatehouse-assertion"] != nil || headers?["authorization"] != nil)
            #expect(result["hello"]?["path"] == .string("/chat"), "the tenant prefix is stripped")
            let echo = result["echo"]?.arrayValue ?? []
            #expect(echo.count == 3, "\(echo.count) echoes")
            #expect(echo.first == .string("hello"))
            #expect(echo.dropFirst().first == .string("{\"n\":2}"))
            #expect(echo.last?["size"] == .number(String(big)), "a 3 MiB message came back whole")
            #expect(echo.last?["all_x"] == .bool(true))
        }
    }

    @Test func aTokenOfAnotherTenantOrNoneIsRefusedBeforeAnyUpgrade() async throws {
        try await Self.withWebSocketAgent { h, server, base in
            let foreign = try await Self.client([base + "/chat", h.token("bob", tenant: "globex")])
            let foreignStatus = foreign["status"]?.doubleValue ?? 0
            #expect(foreignStatus == 401 || foreignStatus == 403, "\(foreign)")
            let anonymous = try await Self.client([base + "/chat", "-"])
            #expect(anonymous["status"] == .number("401"), "\(anonymous)")
            #expect(Self.handshakes(server).isEmpty, "a refused handshake reached the agent: \(server.output)")
        }
    }

    @Test func aSessionBoundToAnotherUserIsRefused() async throws {
        try await Self.withWebSocketAgent { h, server, base in
            let session = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id:ws-session-\(UUID().uuidString)"
            let alice = try await Self.client([base + "/chat", h.token("alice"), "--header", session, "--send", "mine"])
            #expect(alice["status"] == .number("101"), "\(alice)")
            let bob = try await Self.client([base + "/chat", h.token("bob"), "--header", session])
            #expect(bob["status"] != .number("101"), "bob used alice's session: \(bob)")
            #expect((bob["status"]?.doubleValue ?? 0) >= 400)
            let again = try await Self.client([base + "/chat", h.token("alice"), "--header", session, "--send", "still mine"])
            #expect(again["echo"]?.arrayValue?.first == .string("still mine"), "\(again)")
            let subjects = Self.handshakes(server).map { $0["headers"]?["x-user-id"] }
            #expect(subjects == [.array([.string("alice")]), .array([.string("alice")])], "\(server.output)")
        }
    }

    @Test func anAgentThatClosesClosesTheClient() async throws {
        try await Self.withWebSocketAgent { h, _, base in
            let result = try await Self.client([base + "/close", h.token("alice"), "--wait-close"])
            #expect(result["status"] == .number("101"), "\(result)")
            #expect(result["closed"] == .bool(true), "\(result)")
        }
    }

    @Test func anAgentThatRefusesTheHandshakeAnswersAsAnyResponse() async throws {
        try await Self.withWebSocketAgent { h, _, base in
            let result = try await Self.client([base + "/reject", h.token("alice")])
            #expect(result["status"] == .number("403"), "\(result)")
        }
    }

    /// Raw bytes: other upgrades are refused, malformed handshakes too, and bytes a client sends
    /// before the agent's `101` are never relayed as tunnel bytes when the agent refuses: they
    /// are read as the next request, authenticated like any other.
    @Test func otherUpgradesAndMalformedHandshakesAreRefused() async throws {
        try await Self.withWebSocketAgent { h, server, _ in
            let raw = RawClient(port: h.gatehouse.dataPort)
            let auth = "Authorization: Bearer \(h.token("alice"))\r\n"
            let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            let other = try await raw.send("GET /t/acme/chat HTTP/1.1\r\nHost: localhost\r\n\(auth)Connection: Upgrade\r\nUpgrade: foo/1\r\n\r\n")
            #expect(other.status == 400)
            #expect(other.json?["error"] == .string("unsupported_upgrade"))
            let post = try await raw.send(
                "POST /t/acme/chat HTTP/1.1\r\nHost: localhost\r\n\(auth)\(key)Connection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 2\r\n\r\nhi")
            #expect(post.status == 400, "\(post.text)")
            let noConnection = try await raw.send("GET /t/acme/chat HTTP/1.1\r\nHost: localhost\r\n\(auth)\(key)Upgrade: websocket\r\n\r\n")
            #expect(noConnection.status == 400, "\(noConnection.text)")
            // A refused handshake followed at once by a request without a token: that request is
            // parsed and refused by Gatehouse, not relayed to the agent's connection.
            let smuggle = try await raw.sendReadingUntilClose(
                "GET /t/acme/reject HTTP/1.1\r\nHost: localhost\r\n\(auth)\(key)Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                    + "GET /t/acme/chat HTTP/1.1\r\nHost: localhost\r\nX-User-Id: mallory\r\nConnection: close\r\n\r\n")
            #expect(smuggle.hasPrefix("HTTP/1.1 403"), "\(smuggle)")
            #expect(smuggle.contains("HTTP/1.1 401"), "the request after a refused handshake was not Gatehouse's to refuse: \(smuggle)")
            #expect(Self.handshakes(server).isEmpty, "\(server.output)")
        }
    }

    /// A `101` must accept the handshake it answers: one naming another protocol (or none) is a
    /// broken upstream, 502, and no byte of it is relayed as a tunnel.
    @Test func aSwitchToAnythingButWebSocketIsABadGateway() async throws {
        for upgrade in ["Upgrade: h2c\r\n", ""] {
            var options = RawUpstream.Options()
            options.response = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\(upgrade)\r\nsmuggled bytes"
            try await withRawUpstream(options) { h, upstream in
                let r = try await RawClient(port: h.gatehouse.dataPort).send(
                    "GET /t/acme/chat HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(h.token())\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
                #expect(r.status == 502, "\(upgrade): \(r.text)")
                #expect(!r.text.contains("smuggled"))
                // What went upstream: Gatehouse's own Connection and Upgrade lines.
                let sent = upstream.connections.flatMap { RawUpstream.requests(in: $0) }.joined()
                #expect(sent.contains("connection: upgrade\r\nupgrade: websocket\r\n"), "\(sent)")
            }
        }
    }

    // MARK: - WebSocket over HTTP/2 (RFC 8441 extended CONNECT)

    static func h2Client(_ h: Harness, _ path: String, _ arguments: [String]) async throws -> JSONValue {
        try await ChildProcess.jsonLine(scripts + "/ws_h2_client.py", [String(h.gatehouse.dataPort), path] + arguments, timeout: 60)
    }

    /// An HTTP/2 client opens a WebSocket with extended CONNECT: Gatehouse offers it in its
    /// SETTINGS, authenticates and strips the CONNECT like any request, relays it to the agent as
    /// an HTTP/1.1 handshake with a key of its own, answers `200` on the agent's `101`, and the
    /// stream's DATA is the tunnel both ways.
    @Test func webSocketOverHTTP2IsAnExtendedConnect() async throws {
        try await Self.withWebSocketAgent { h, server, _ in
            let big = 1 << 20
            let result = try await Self.h2Client(h, "/t/acme/chat", [
                h.token("alice"), "--header", "X-User-Id:mallory", "--header", "x_user_id:mallory", "--header", "sec-websocket-key:client-chosen",
                "--send", "hello", "--send-size", String(big),
            ])
            #expect(result["connect_protocol"] == .number("1"), "SETTINGS_ENABLE_CONNECT_PROTOCOL: \(result)")
            #expect(result["status"] == .number("200"), "\(result)")
            let headers = result["hello"]?["headers"]
            #expect(headers?["x-user-id"] == .array([.string("alice")]), "the agent saw \(String(describing: headers))")
            #expect(headers?["x_user_id"] == nil)
            #expect(headers?["sec-websocket-key"]?.arrayValue?.count == 1 && headers?["sec-websocket-key"] != .array([.string("client-chosen")]))
            #expect(headers?["upgrade"] == .array([.string("websocket")]))
            #expect(result["hello"]?["path"] == .string("/chat"))
            let echo = result["echo"]?.arrayValue ?? []
            #expect(echo.first == .string("hello"), "\(result)")
            #expect(echo.last?["size"] == .number(String(big)) && echo.last?["all_x"] == .bool(true), "a 1 MiB message came back whole")

            let closing = try await Self.h2Client(h, "/t/acme/close", [h.token("alice"), "--wait-close"])
            #expect(closing["status"] == .number("200") && closing["closed"] == .bool(true), "an agent that closes ends the stream: \(closing)")
            let handshakes = Self.handshakes(server).count

            let foreign = try await Self.h2Client(h, "/t/acme/chat", [h.token("bob", tenant: "globex")])
            #expect(foreign["status"] == .number("401"), "\(foreign)")
            let anonymous = try await Self.h2Client(h, "/t/acme/chat", ["-"])
            #expect(anonymous["status"] == .number("401"), "\(anonymous)")
            let rejected = try await Self.h2Client(h, "/t/acme/reject", [h.token("alice")])
            #expect(rejected["status"] == .number("403"), "the agent's refusal is relayed: \(rejected)")
            #expect(Self.handshakes(server).count == handshakes, "a refused CONNECT reached the agent: \(server.output)")
        }
    }
}
