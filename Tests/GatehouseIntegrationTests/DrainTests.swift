import Foundation
import GatehouseCore
import Synchronization
import Testing

/// Graceful shutdown (SIGTERM): requests in progress finish, nothing new is taken, `/readyz`
/// tells the load balancer, and the grace period bounds it all.
@Suite struct DrainTests {
    @Test func aShutdownLetsRequestsInProgressFinishAndClosesIdleConnections() async throws {
        try await withHarness { h in
            let token = h.token()
            let client = h.client
            // An idle keep-alive connection: answered once, then left open by the client.
            let idleClosed = Atomic<Bool>(false)
            let idle = Task {
                let text = try await client.sendReadingUntilClose(
                    "GET /t/acme/idle HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\n\r\n", timeout: 60)
                idleClosed.store(true, ordering: .relaxed)
                return text
            }
            #expect(await eventually { h.acme.flatMap { $0.received() }.contains { $0.uri == "/idle" } })
            // A stream in progress: 5 events, 1 s apart.
            let stream = Task { try await client.request("GET", "/t/acme/sse?count=5&interval_ms=1000", headers: [h.bearer(token)]) }
            #expect(await eventually { h.acme.flatMap { $0.received() }.contains { $0.uri.hasPrefix("/sse") } })
            #expect(h.gatehouse.runtime.activeRequests == 1)

            let gatehouse = h.gatehouse
            let done = Flag()
            Task { await gatehouse.shutdown(grace: .seconds(60)); done.set() }
            #expect(await eventually { (try? await h.admin.request("GET", "/readyz").status) == 503 }, "not ready while draining")
            #expect((try? await client.request("GET", "/t/acme/new", headers: [h.bearer(token)])) == nil, "no new connections accepted")
            #expect(await eventually(within: 20) { idleClosed.load(ordering: .relaxed) }, "the idle connection is closed")
            #expect(h.gatehouse.runtime.activeRequests == 1, "...while the stream is still in progress")
            #expect(try await idle.value.contains("HTTP/1.1 200"))

            let response = try await stream.value
            #expect(response.status == 200)
            #expect(response.text.components(separatedBy: "data:").count - 1 == 5, "the stream in progress ran to its end")
            // Done as soon as the last request ended, not at the end of the 60 s grace.
            #expect(await eventually(within: 20) { done.isSet })
            #expect(h.gatehouse.runtime.activeRequests == 0)
            #expect(!h.acme.flatMap { $0.received() }.contains { $0.uri == "/new" })
        }
    }

    /// HTTP/2 at shutdown: GOAWAY naming the last stream Gatehouse took, that stream runs to its
    /// end, a stream opened after the GOAWAY is not served, then the connection closes.
    @Test func anHTTP2ConnectionGetsGoAwayAndItsStreamsFinish() async throws {
        try await withHarness { h in
            let client = try RawHTTP2Client(port: h.gatehouse.dataPort)
            let auth = ("authorization", "Bearer " + h.token())
            try client.send([try client.request(stream: 1, path: "/t/acme/sse?count=4&interval_ms=500", headers: [auth])])
            #expect(await eventually { h.acme.flatMap { $0.received() }.contains { $0.uri.hasPrefix("/sse") } })
            let gatehouse = h.gatehouse
            let done = Flag()
            Task { await gatehouse.shutdown(grace: .seconds(60)); done.set() }
            // Read until the final GOAWAY (the second one, after the PING round trip).
            var frames = await client.read(timeout: 10) { frames in
                frames.contains { $0.kind == .goAway && Self.lastStream($0) == 1 }
            }
            let goAways = frames.filter { $0.kind == .goAway }
            #expect(goAways.last.map(Self.lastStream) == 1, "GOAWAY frames: \(goAways.map(Self.lastStream))")
            #expect(goAways.allSatisfy { $0.errorCode == 0 }, "a graceful GOAWAY carries NO_ERROR")
            // A new stream after the GOAWAY is ignored (RFC 9113 6.8): never forwarded.
            try? client.send([try client.request(stream: 3, path: "/t/acme/late", headers: [auth])])
            frames += await client.read(timeout: 20) { frames in frames.contains { $0.stream == 1 && $0.flags & H2Frame.endStream != 0 } }
            let body = frames.filter { $0.stream == 1 && $0.kind == .data }.map { String(decoding: $0.payload, as: UTF8.self) }.joined()
            #expect(body.components(separatedBy: "data:").count - 1 == 4, "the stream in progress ran to its end: \(body)")
            #expect(await client.waitForClose(timeout: 10), "the connection closes after its last stream")
            #expect(await eventually(within: 20) { done.isSet }, "the shutdown ends when the last stream did")
            #expect(!h.acme.flatMap { $0.received() }.contains { $0.uri == "/late" })
        }
    }

    /// The last-stream-id of a GOAWAY frame.
    static func lastStream(_ frame: H2Frame) -> UInt32 {
        guard frame.payload.count >= 4 else { return 0 }
        return frame.payload[0..<4].reduce(0) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
    }

    @Test func theGracePeriodBoundsTheWait() async throws {
        try await withHarness { h in
            let (stream, done) = await Self.shutDownDuringALongStream(h, grace: .milliseconds(300))
            #expect(await eventually(within: 15) { done.isSet }, "ends after the grace, not with the 20 s stream")
            let cut = await stream.value
            #expect(cut.map { $0.text.components(separatedBy: "data:").count - 1 < 200 } ?? true, "the stream was cut")
        }
    }

    @Test func aSecondSignalEndsTheGraceAtOnce() async throws {
        try await withHarness { h in
            let (stream, done) = await Self.shutDownDuringALongStream(h, grace: .seconds(120))
            #expect(await eventually { (try? await h.admin.request("GET", "/readyz").status) == 503 })
            #expect(!done.isSet, "still draining")
            h.gatehouse.endGraceNow()
            #expect(await eventually(within: 15) { done.isSet })
            _ = await stream.value
        }
    }

    /// A 20 s event stream in progress, then a shutdown with `grace` (`done` is set when it returns).
    static func shutDownDuringALongStream(_ h: Harness, grace: Duration) async -> (stream: Task<RawClient.Response?, Never>, done: Flag) {
        let token = h.token()
        let client = h.client
        let stream = Task { try? await client.request("GET", "/t/acme/sse?count=200&interval_ms=100", headers: [h.bearer(token)]) }
        #expect(await eventually { h.acme.flatMap { $0.received() }.contains { $0.uri.hasPrefix("/sse") } })
        let gatehouse = h.gatehouse
        let done = Flag()
        Task { await gatehouse.shutdown(grace: grace); done.set() }
        return (stream, done)
    }
}
