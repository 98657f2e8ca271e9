import Foundation
import GatehouseCore
import GatehouseDemo
import Testing

/// docs/http.md, docs/status-codes.md "What Gatehouse answers itself": streaming, round robin, failover, timeouts, limits.
@Suite(.serialized) struct ForwardingTests {
    @Test func serverSentEventsArriveBeforeTheStreamEnds() async throws {
        try await withHarness { h in
            let started = monotonicSeconds()
            let r = try await h.client.request("GET", "/t/acme/sse?count=4&interval_ms=250", headers: [h.bearer(h.token())])
            #expect(r.status == 200)
            #expect(r.text.components(separatedBy: "data:").count - 1 == 4)
            // The first event must reach the client long before the last one is produced.
            let firstArrival = try #require(r.arrivals.first?.at)
            let lastArrival = try #require(r.arrivals.last?.at)
            #expect(r.arrivals.count >= 3, "events were delivered in \(r.arrivals.count) chunk(s): buffered")
            #expect(lastArrival - firstArrival >= 0.5)
            #expect(firstArrival - started < lastArrival - started - 0.5)
        }
    }

    @Test func roundRobinSpreadsRequestsOverInstances() async throws {
        try await withHarness { h in
            for _ in 0..<6 {
                let r = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token())])
                #expect(r.status == 200)
            }
            #expect(h.acme[0].received().count == 3)
            #expect(h.acme[1].received().count == 3)
        }
    }

    @Test func aDeadInstanceIsSkippedAndRequestsStillSucceed() async throws {
        let dead = deadPort()
        try await withHarness({ setup, _, agents in
            setup.tenants[0].upstreams = [Upstream(url: "http://127.0.0.1:\(dead)")!, Upstream(url: agents[0].baseURL)!]
        }) { h in
            for _ in 0..<5 {
                let r = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token())])
                #expect(r.status == 200)
            }
            #expect(h.acme[0].received().count == 5)
        }
    }

    @Test func noReachableUpstreamIs502() async throws {
        let dead = deadPort()
        try await withHarness({ setup, _, _ in setup.tenants[0].upstreams = [Upstream(url: "http://127.0.0.1:\(dead)")!] }) { h in
            let r = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token())])
            #expect(r.status == 502)
            #expect(r.json?["error"] == .string("bad_gateway"))
        }
    }

    @Test func aHangingUpstreamIs504AfterTheIdleTimeout() async throws {
        let hole = BlackHole()
        try await withHarness({ setup, _, _ in
            setup.tenants[0].upstreams = [Upstream(url: "http://127.0.0.1:\(hole.port)")!]
            setup.settings.limits.upstreamIdleTimeoutSeconds = 0.5
        }) { h in
            let r = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token())])
            #expect(r.status == 504)
        }
        _ = hole
    }

    @Test func requestBodiesStreamToTheUpstream() async throws {
        try await withHarness { h in
            let body = String(repeating: "0123456789", count: 20_000)
            let r = try await h.client.request("POST", "/t/acme/upload", headers: [h.bearer(h.token())], body: body)
            #expect(r.status == 200)
            #expect(h.acme.flatMap { $0.received() }.first?.body.count == body.utf8.count)
        }
    }

    @Test func chunkedRequestBodiesAreForwarded() async throws {
        try await withHarness { h in
            let raw = "POST /t/acme/c HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer \(h.token())\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            let r = try await h.client.send(raw)
            #expect(r.status == 200)
            #expect(h.acme.flatMap { $0.received() }.first.map { String(decoding: $0.body, as: UTF8.self) } == "hello world")
        }
    }

    @Test func expectContinueIsAnsweredOnceTheRequestIsAuthorised() async throws {
        try await withHarness { h in
            let head = "POST /t/acme/up HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer \(h.token())\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
            let client = h.client
            let text = try await withCheckedThrowingContinuation { (c: CheckedContinuation<String?, Error>) in
                Thread.detachNewThread {
                    do { c.resume(returning: try client.sendExpectingContinue(head: head, body: "hello")) } catch { c.resume(throwing: error) }
                }
            }
            let final = try #require(text, "no 100 Continue came back")
            #expect(final.hasPrefix("HTTP/1.1 200"))
            #expect(h.acme.flatMap { $0.received() }.first.map { String(decoding: $0.body, as: UTF8.self) } == "hello")
            #expect(h.acme.flatMap { $0.received() }.first?.header("Expect") == nil)
        }
    }

    @Test func oversizedBodiesAre413AndNeverForwarded() async throws {
        try await withHarness({ setup, _, _ in setup.settings.limits.maxRequestBodyBytes = 1000 }) { h in
            let r = try await h.client.request("POST", "/t/acme/x", headers: [h.bearer(h.token())], body: String(repeating: "x", count: 5000))
            #expect(r.status == 413)
            #expect(h.upstreamRequests.isEmpty)
        }
    }

    /// A client still sending a body Gatehouse refused gets to finish sending and read the 413:
    /// Gatehouse answers, shuts its side and reads and drops the rest (for up to 2 s) instead of
    /// closing at once, which would reset the connection under the client's writes.
    @Test func aClientStillSendingARefusedBodyReadsThe413() async throws {
        try await withHarness({ setup, _, _ in setup.settings.limits.maxRequestBodyBytes = 1000 }) { h in
            let size = 8 << 20
            let head = "POST /t/acme/upload HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(h.token())\r\nContent-Length: \(size)\r\n\r\n"
            let client = RawClient(port: h.gatehouse.dataPort)
            let (sent, response) = try await onOwnThread { try client.sendLargeBodyBlocking(head: head, bodyBytes: size) }
            #expect(sent == size, "the connection was reset after \(sent) of \(size) body bytes")
            #expect(response?.status == 413)
            #expect(response?.header("Connection")?.lowercased() == "close")
            #expect(h.upstreamRequests.isEmpty)
        }
    }

    @Test func oversizedHeadersAre431() async throws {
        try await withHarness({ setup, _, _ in setup.settings.limits.maxHeaderBytes = 4096 }) { h in
            let r = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token()), ("X-Big", String(repeating: "b", count: 5000))])
            #expect(r.status == 431)
            #expect(h.upstreamRequests.isEmpty)
        }
    }

    @Test func tenantRateLimitAnswers429WithRetryAfter() async throws {
        try await withHarness({ setup, _, _ in setup.tenants[0].limits = TenantLimits(requestsPerSecond: 1) }) { h in
            let token = h.token()
            let first = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(token)])
            #expect(first.status == 200)
            let second = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(token)])
            #expect(second.status == 429)
            #expect(Int(second.header("Retry-After") ?? "") ?? 0 >= 1)
            // Another tenant is not affected.
            let other = try await h.client.request("GET", "/t/globex/x", headers: [h.bearer(h.token(tenant: "globex"))])
            #expect(other.status == 200)
        }
    }

    @Test func tenantConcurrencyLimitAnswers429() async throws {
        try await withHarness({ setup, _, _ in setup.tenants[0].limits = TenantLimits(maxConcurrentRequests: 1) }) { h in
            let token = h.token()
            let client = h.client
            async let stream = client.request("GET", "/t/acme/sse?count=5&interval_ms=200", headers: [h.bearer(token)])
            let busy = await eventually { h.acme.flatMap { $0.received() }.count == 1 }
            #expect(busy)
            let second = try await client.request("GET", "/t/acme/x", headers: [h.bearer(token)])
            #expect(second.status == 429)
            #expect(try await stream.status == 200)
            let after = try await client.request("GET", "/t/acme/x", headers: [h.bearer(token)])
            #expect(after.status == 200)
        }
    }

    @Test func keepAliveConnectionsServeSeveralRequests() async throws {
        try await withHarness { h in
            let token = h.token()
            let one = "GET /t/acme/a HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\n\r\n"
            let last = "GET /t/acme/b HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n"
            // Pipelined: both requests in one write; both answered in order on one connection.
            let text = try await h.client.sendReadingUntilClose(one + last)
            #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count - 1 == 2)
            #expect(h.acme.flatMap { $0.received() }.map(\.uri).sorted() == ["/a", "/b"])
        }
    }

    @Test func metricsCountRequestsAndFailures() async throws {
        try await withHarness { h in
            _ = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token())])
            _ = try await h.client.request("GET", "/t/acme/x")
            let m = try await h.admin.request("GET", "/metrics")
            #expect(m.status == 200)
            #expect(m.text.contains("gatehouse_requests_total{tenant=\"acme\",status=\"200\"} 1"))
            #expect(m.text.contains("gatehouse_auth_failures_total{tenant=\"acme\",reason=\"missing_token\"} 1"))
            #expect(m.text.contains("gatehouse_jwks_fetches_total"))
            let health = try await h.admin.request("GET", "/healthz")
            #expect(health.status == 200)
            let ready = try await h.admin.request("GET", "/readyz")
            #expect(ready.status == 200)
        }
    }
}
