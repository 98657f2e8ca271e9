import Foundation
import GatehouseCore
import Testing

/// The real `gatehouse` binary exporting OpenTelemetry spans over OTLP/HTTP to a real receiver
/// (`Tests/otlp/otlp_receiver.py`, built on the `opentelemetry-proto` package): the span tree,
/// its attributes, the trace continued from the caller and passed upstream, the trace id in the
/// access line, and the `tracing:` settings changed live.
@Suite(.serialized) struct TracingTests {
    static let receiverScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("otlp/otlp_receiver.py").path

    struct ReceivedSpan {
        let json: JSONValue
        var name: String { json["name"]?.stringValue ?? "" }
        var traceID: String { json["trace_id"]?.stringValue ?? "" }
        var spanID: String { json["span_id"]?.stringValue ?? "" }
        var parent: String { json["parent_span_id"]?.stringValue ?? "" }
        var kind: String { json["kind"]?.stringValue ?? "" }
        var status: String { json["status_code"]?.stringValue ?? "" }
        func attribute(_ key: String) -> JSONValue? { json["attributes"]?[key] }
    }

    static func spans(_ receiver: BackgroundProcess) -> [ReceivedSpan] {
        receiver.lines(startingWith: "SPAN ").compactMap { try? JSONParser.parse($0) }.map(ReceivedSpan.init)
    }

    static func settings(otlpPort: Int, tracing: String) -> String {
        """
        listen: "127.0.0.1:0"
        admin:
          listen: "127.0.0.1:0"
        tenants_dir: tenants
        identity:
          insecure_idp_hosts: ["127.0.0.1"]
          jwks_min_refresh_seconds: 1
        assertion:
          key_dir: state/keys
        store: "sqlite:state/state.sqlite"
        tracing:
        \(tracing.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
          endpoint: "http://127.0.0.1:\(otlpPort)"
          service_name: "gatehouse-test"

        """
    }

    /// The OTLP receiver on a port of its own, and that port.
    static func startReceiver() async throws -> (BackgroundProcess, Int) {
        let receiver = try BackgroundProcess.start(script: receiverScript)
        _ = await eventually(within: 30) { receiver.port != nil || !receiver.isRunning }
        guard let port = receiver.port else {
            receiver.stop()
            throw RawClient.Failure(description: "otlp_receiver.py did not start: \(receiver.output)")
        }
        return (receiver, port)
    }

    @Test func requestsBecomeSpanTreesAtARealReceiverAndTheTraceGoesUpstream() async throws {
        let (receiver, otlpPort) = try await Self.startReceiver()
        defer { receiver.stop() }
        let peers = try await LoopbackPeers.start(agentName: "traced")
        let dir = try TempDir()
        try dir.write("gatehouse.yaml", Self.settings(otlpPort: otlpPort, tracing: "enabled: true\nsample_ratio: 1.0"))
        try peers.writeAcmeTenant(
            dir, extra: "sessions:\n  - { header: \"X-Session\", issued_by: client }\noauth:\n  completion_url: \"\(peers.agent.baseURL)/oauth/complete\"\n")
        let served = try await ServedGatehouse.start(dir)
        defer { _ = served.process.isRunning ? served.process.terminate() : () }
        #expect(served.stderr.text.contains("tracing on"), "\(served.stderr.text)")
        let client = RawClient(port: served.port)
        let token = peers.idp.mintToken(subject: "alice")

        // 1. A caller's sampled trace: continued, and passed upstream from Gatehouse's upstream span.
        let callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
        let callerSpan = "00f067aa0ba902b7"
        let traced = try await client.request(
            "GET", "/t/acme/items?api_key=hunter2",
            headers: [
                ("Authorization", "Bearer \(token)"), ("traceparent", "00-\(callerTrace)-\(callerSpan)-01"), ("tracestate", "vendor=abc"),
                ("X-Session", "sess-traced-1"),
            ])
        #expect(traced.status == 200, "\(traced.text)")
        let upstreamParent = try #require(traced.json?["headers"]?["traceparent"]?.stringValue, "\(traced.text)")
        #expect(upstreamParent.hasPrefix("00-\(callerTrace)-") && upstreamParent.hasSuffix("-01"), "\(upstreamParent)")
        #expect(!upstreamParent.contains(callerSpan), "the upstream's parent is Gatehouse's span, not the caller's")
        #expect(traced.json?["headers"]?["tracestate"]?.stringValue == "vendor=abc")

        // 1b. The same over HTTP/2 (h2c): the same spans, the caller's trace continued.
        let h2Trace = "5bf92f3577b34da6a3ce929d0e0e4737"
        let h2 = try await HTTP2Tests.curl([
            "--http2-prior-knowledge", "-H", "Authorization: Bearer \(token)", "-H", "traceparent: 00-\(h2Trace)-\(callerSpan)-01",
            "http://127.0.0.1:\(served.port)/t/acme/over-h2",
        ] + HTTP2Tests.writeOut)
        #expect(h2.output.hasSuffix("\n2 200"), "\(h2.output)")
        #expect(h2.output.contains("00-\(h2Trace)-"), "the agent saw the trace continued: \(h2.output)")

        // 1c. An OAuth flow registered: Gatehouse answers itself, after a store call.
        let flow = try await client.request(
            "POST", "/t/acme/.gatehouse/oauth/flows", headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
            body: #"{"session_id":"traced-flow-1","authorization_url":"https://provider.example/authorize?client=1"}"#)
        #expect(flow.status == 201, "\(flow.text)")

        // 1d. Span names come from a bounded set, not from the path a caller sends.
        let lookalike = try await client.request("GET", "/t/acme/x/.gatehouse/made-up-1", headers: [("Authorization", "Bearer \(token)")])
        #expect(lookalike.status == 200)
        let unknown = try await client.request("GET", "/.gatehouse/made-up-2", headers: [])
        #expect(unknown.status == 404)

        // 2. No token: a trace of its own, refused.
        let refused = try await client.request("GET", "/t/acme/items", headers: [])
        #expect(refused.status == 401)

        // 3. A key the IdP added after Gatehouse fetched its keys: the token waits for a fetch.
        let kid = peers.idp.addES256Key()
        let newKeyToken = peers.idp.mintToken(claims: peers.idp.standardClaims(subject: "bob"), keyID: kid)
        // (Refetches for an unknown key are at most one a second here: the first tries may be refused.)
        let gotIn = await eventually(within: 20) {
            let r = try? await client.request("GET", "/t/acme/new-key", headers: [("Authorization", "Bearer \(newKeyToken)")])
            if r?.status != 200 { try? await Task.sleep(for: .milliseconds(200)) }
            return r?.status == 200
        }
        #expect(gotIn, "a token signed with the IdP's new key was never accepted")

        // The spans arrive (batched, within about a second of ending).
        let expected = await eventually(within: 30) {
            let spans = Self.spans(receiver)
            return spans.contains { $0.traceID == callerTrace && $0.kind == "SPAN_KIND_SERVER" }
                && spans.contains { $0.traceID == h2Trace && $0.kind == "SPAN_KIND_SERVER" }
                && spans.contains { $0.name == "oauth flow create" }
                && spans.contains { $0.attribute("url.path") == .string("/.gatehouse/made-up-2") }
                && spans.contains { $0.name == "fetch key set" } && spans.filter { $0.kind == "SPAN_KIND_SERVER" }.count >= 3
        }
        let spans = Self.spans(receiver)
        #expect(expected, "spans: \(spans.map(\.json)) receiver: \(receiver.output)")

        // The first request's tree: server ← caller; verify, store, upstream ← server.
        let server = try #require(spans.first { $0.traceID == callerTrace && $0.kind == "SPAN_KIND_SERVER" })
        #expect(server.parent == callerSpan, "the caller's span is the server span's parent")
        #expect(server.name == "GET /t/acme/*", "\(server.name)")
        #expect(server.json["service_name"] == .string("gatehouse-test"))
        #expect(server.attribute("gatehouse.tenant") == .string("acme"))
        #expect(server.attribute("http.request.method") == .string("GET"))
        #expect(server.attribute("http.response.status_code") == .number("200"))
        #expect(server.attribute("server.address") == .string("localhost"), "the Host the caller sent")
        #expect(server.attribute("url.path") == .string("/t/acme/items"))
        #expect(server.attribute("gatehouse.upstream") != nil)
        #expect(server.attribute("enduser.id") == nil, "the subject is recorded only when the operator opts in")
        let children = spans.filter { $0.traceID == callerTrace && $0.parent == server.spanID }
        #expect(Set(children.map(\.name)) == ["verify token", "store persist session bindings", "upstream"], "\(children.map(\.json))")
        let upstream = try #require(children.first { $0.name == "upstream" })
        #expect(upstream.kind == "SPAN_KIND_CLIENT")
        #expect(upstreamParent == "00-\(callerTrace)-\(upstream.spanID)-01", "the agent's parent is the upstream span")
        #expect(upstream.attribute("http.response.status_code") == .number("200"))
        #expect(upstream.attribute("server.address") == .string("127.0.0.1"))
        let store = try #require(children.first { $0.name == "store persist session bindings" })
        #expect(store.attribute("db.system.name") == .string("sqlite"))

        let h2Server = try #require(spans.first { $0.traceID == h2Trace && $0.kind == "SPAN_KIND_SERVER" })
        #expect(h2Server.attribute("network.protocol.version") == .string("2") && h2Server.parent == callerSpan)
        #expect(server.attribute("network.protocol.version") == .string("1.1"))
        // The same token again: a `verify token` span, or (a token this event loop verified
        // before) a flag on the server span instead.
        let h2Children = Set(spans.filter { $0.parent == h2Server.spanID }.map(\.name))
        #expect(
            h2Children == ["verify token", "upstream"] || (h2Children == ["upstream"] && h2Server.attribute("gatehouse.token.cached") == .bool(true)),
            "\(h2Children) \(h2Server.json)")

        let flowServer = try #require(spans.first { $0.name == "POST /t/acme/.gatehouse/oauth/flows" }, "\(spans.map(\.name))")
        #expect(flowServer.attribute("http.response.status_code") == .number("201"))
        let flowChildren = spans.filter { $0.parent == flowServer.spanID }
        #expect(flowChildren.contains { $0.name == "oauth flow create" && $0.attribute("db.system.name") == .string("sqlite") }, "\(flowChildren.map(\.json))")
        #expect(!flowChildren.contains { $0.name == "upstream" })

        let names = { (path: String) in spans.filter { $0.attribute("url.path") == .string(path) && $0.kind == "SPAN_KIND_SERVER" }.map(\.name) }
        #expect(names("/t/acme/x/.gatehouse/made-up-1") == ["GET /t/acme/*"])
        #expect(names("/.gatehouse/made-up-2") == ["GET /.gatehouse/*"])
        #expect(!spans.contains { $0.name.contains("made-up") }, "a caller's path became a span name")

        // The refused request: a root span of its own, no upstream.
        let refusedServer = try #require(spans.first { $0.kind == "SPAN_KIND_SERVER" && $0.attribute("http.response.status_code") == .number("401") })
        #expect(refusedServer.parent == "" && refusedServer.traceID != callerTrace)
        #expect(refusedServer.status == "STATUS_CODE_UNSET", "a 4xx is the caller's error, not the server span's")
        #expect(!spans.contains { $0.traceID == refusedServer.traceID && $0.name == "upstream" })

        // The new key: its fetch is a child of the token's verification.
        let fetch = try #require(spans.first { $0.name == "fetch key set" })
        let verify = try #require(spans.first { $0.spanID == fetch.parent }, "the fetch's parent is not a span Gatehouse sent")
        #expect(verify.name == "verify token")
        #expect(fetch.kind == "SPAN_KIND_CLIENT" && fetch.attribute("gatehouse.idp") == .string("dev"))
        #expect(fetch.attribute("gatehouse.key_set.unknown_kid") == .bool(true))
        let fetchServer = try #require(spans.first { $0.spanID == verify.parent })
        #expect(fetchServer.attribute("url.path") == .string("/t/acme/new-key"))

        // Never a token, a query string or the session id in a span.
        let everything = receiver.output
        #expect(!everything.contains(token.prefix(40)) && !everything.contains(newKeyToken.prefix(40)), "a token reached a span")
        #expect(!everything.contains("hunter2") && !everything.contains("api_key"), "a query string reached a span")
        #expect(!everything.contains("sess-traced-1") && !everything.contains("traced-flow-1"), "a session id reached a span")

        // The access lines carry the trace ids.
        #expect(await served.stop())
        let lines = served.stdout.text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }.filter {
            $0["type"] == .string("access")
        }
        #expect(lines.contains { $0["path"] == .string("/t/acme/items") && $0["trace_id"] == .string(callerTrace) }, "\(served.stdout.text)")
        #expect(lines.contains { $0["status"] == .number("401") && $0["trace_id"] == .string(refusedServer.traceID) })
        try await peers.shutdown()
    }

    @Test func samplingAndSwitchingTracingOffAndOnTakeEffectWithoutARestart() async throws {
        let (receiver, otlpPort) = try await Self.startReceiver()
        defer { receiver.stop() }
        let peers = try await LoopbackPeers.start(agentName: "sampled")
        let dir = try TempDir()
        try dir.write("gatehouse.yaml", Self.settings(otlpPort: otlpPort, tracing: "enabled: false"))
        try peers.writeAcmeTenant(dir)
        let served = try await ServedGatehouse.start(dir)
        defer { _ = served.process.isRunning ? served.process.terminate() : () }
        let client = RawClient(port: served.port)
        let token = peers.idp.mintToken(subject: "alice")
        let unsampled = "00-11111111111111111111111111111111-2222222222222222-00"
        let sampled = "00-33333333333333333333333333333333-4444444444444444-01"

        // Off: the caller's traceparent passes unchanged, nothing is exported, no trace_id logged.
        let off = try await client.request("GET", "/t/acme/off", headers: [("Authorization", "Bearer \(token)"), ("traceparent", sampled)])
        #expect(off.json?["headers"]?["traceparent"]?.stringValue == sampled)

        // On at ratio 0 (live, SIGHUP): only what a caller sampled is recorded; the decision travels upstream.
        try dir.write("gatehouse.yaml", Self.settings(otlpPort: otlpPort, tracing: "enabled: true\nsample_ratio: 0"))
        kill(served.process.processIdentifier, SIGHUP)
        #expect(await eventually(within: 10) { served.stderr.text.contains("tracing on") }, "\(served.stderr.text)")
        let notSampled = try await client.request(
            "GET", "/t/acme/unsampled", headers: [("Authorization", "Bearer \(token)"), ("traceparent", unsampled)])
        let notSampledUpstream = try #require(notSampled.json?["headers"]?["traceparent"]?.stringValue, "\(notSampled.text)")
        #expect(notSampledUpstream.hasPrefix("00-11111111111111111111111111111111-") && notSampledUpstream.hasSuffix("-00"))
        let fresh = try await client.request("GET", "/t/acme/fresh", headers: [("Authorization", "Bearer \(token)")])
        #expect(fresh.json?["headers"]?["traceparent"]?.stringValue?.hasSuffix("-00") == true, "a new trace at ratio 0 is not sampled")
        let honoured = try await client.request("GET", "/t/acme/sampled", headers: [("Authorization", "Bearer \(token)"), ("traceparent", sampled)])
        #expect(honoured.json?["headers"]?["traceparent"]?.stringValue?.hasSuffix("-01") == true)
        // A malformed traceparent starts a trace of Gatehouse's own and never reaches the agent.
        let malformed = try await client.request(
            "GET", "/t/acme/malformed", headers: [("Authorization", "Bearer \(token)"), ("traceparent", "00-zz-not-a-trace-01")])
        #expect(malformed.json?["headers"]?["traceparent"]?.stringValue?.contains("zz") == false, "\(malformed.text)")

        #expect(await eventually(within: 30) { Self.spans(receiver).contains { $0.traceID == "33333333333333333333333333333333" } })
        #expect(!Self.spans(receiver).contains { $0.traceID == "11111111111111111111111111111111" }, "an unsampled trace was recorded")
        #expect(!Self.spans(receiver).contains { $0.attribute("url.path") == .string("/t/acme/off") }, "a span was made with tracing off")
        #expect(!Self.spans(receiver).contains { $0.attribute("url.path") == .string("/t/acme/fresh") }, "ratio 0 recorded a new trace")

        // Off again: the exporter stops; the caller's field passes through again.
        try dir.write("gatehouse.yaml", Self.settings(otlpPort: otlpPort, tracing: "enabled: false"))
        kill(served.process.processIdentifier, SIGHUP)
        #expect(await eventually(within: 10) { served.stderr.text.contains("tracing off") }, "\(served.stderr.text)")
        let offAgain = try await client.request("GET", "/t/acme/off-again", headers: [("Authorization", "Bearer \(token)"), ("traceparent", sampled)])
        #expect(offAgain.json?["headers"]?["traceparent"]?.stringValue == sampled)

        #expect(await served.stop())
        let lines = served.stdout.text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }.filter {
            $0["type"] == .string("access")
        }
        #expect(lines.contains { $0["path"] == .string("/t/acme/off") && $0["trace_id"] == nil })
        #expect(lines.contains { $0["path"] == .string("/t/acme/sampled") && $0["trace_id"] == .string("33333333333333333333333333333333") })
        try await peers.shutdown()
    }

    @Test func aCollectorThatIsDownCostsSpansNotRequests() async throws {
        let peers = try await LoopbackPeers.start(agentName: "no-collector")
        let dir = try TempDir()
        try dir.write("gatehouse.yaml", Self.settings(otlpPort: deadPort(), tracing: "enabled: true"))
        try peers.writeAcmeTenant(dir)
        let served = try await ServedGatehouse.start(dir)
        defer { _ = served.process.isRunning ? served.process.terminate() : () }
        let client = RawClient(port: served.port)
        let token = peers.idp.mintToken(subject: "alice")
        for i in 0..<20 {
            let r = try await client.request("GET", "/t/acme/\(i)", headers: [("Authorization", "Bearer \(token)")])
            #expect(r.status == 200)
        }
        #expect(await eventually(within: 30) { served.stderr.text.contains("Failed to export batch") }, "\(served.stderr.text)")
        #expect(try await client.request("GET", "/t/acme/after", headers: [("Authorization", "Bearer \(token)")]).status == 200)
        #expect(await served.stop(), "the exporter held up the stop")
        try await peers.shutdown()
    }
}
