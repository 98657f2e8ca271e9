import Foundation
import GatehouseCore
import NIOCore
import Testing

/// While a request waits for its upstream, the client connection is not idle: only
/// `limits.upstream_idle_timeout_seconds` applies, and it answers 504 — never a silent close.
@Suite(.serialized) struct SlowUpstreamTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var timeout: Double
        var delay: Double
        var status: Int
        var testDescription: String { "timeout \(timeout)s, upstream \(delay)s → \(status)" }
    }

    static let cases = [
        Case(timeout: 1, delay: 6, status: 504),
        Case(timeout: 2, delay: 5, status: 504),
        Case(timeout: 3, delay: 2, status: 200),
    ]

    func withSlowUpstream(_ c: Case, _ body: (Harness) async throws -> Void) async throws {
        var options = RawUpstream.Options()
        options.delay = .milliseconds(Int64(c.delay * 1000))
        try await withRawUpstream(options, customize: { $0.settings.limits.upstreamIdleTimeoutSeconds = c.timeout }) { h, _ in
            try await body(h)
        }
    }

    @Test(arguments: cases)
    func http1(_ c: Case) async throws {
        try await withSlowUpstream(c) { h in
            let started = monotonicSeconds()
            let r = try await h.client.request("GET", "/t/acme/slow", headers: [h.bearer(h.token())])
            let took = monotonicSeconds() - started
            #expect(r.status == c.status, "\(r.status) \(r.text)")
            if c.status == 504 {
                #expect(r.json?["error"]?.stringValue == "gateway_timeout")
                #expect(took >= c.timeout * 0.9 && took < c.delay, "answered after \(took)s")
            }
        }
    }

    @Test(arguments: cases)
    func http2(_ c: Case) async throws {
        try await withSlowUpstream(c) { h in
            let client = try RawHTTP2Client(port: h.gatehouse.dataPort)
            try client.send([try client.request(stream: 1, path: "/t/acme/slow", headers: [("authorization", "Bearer " + h.token())])])
            let frames = await client.read(timeout: 10) { $0.contains { $0.stream == 1 && $0.flags & H2Frame.endStream != 0 } }
            #expect(!client.closed, "the connection was closed instead of answered")
            #expect(try client.statuses(frames)[1] == c.status)
        }
    }
}
