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
