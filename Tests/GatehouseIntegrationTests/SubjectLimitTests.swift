import Foundation
import GatehouseCore
import Testing

/// Per-caller limits from outside: one user over its rate or concurrency gets 429 with
/// `Retry-After`, and another user of the same tenant is not held back.
@Suite(.serialized) struct SubjectLimitTests {
    @Test func oneUserCannotUseUpTheTenant() async throws {
        try await withHarness({ setup, _, _ in
            // One request every 5 s (a burst of 1): the second request comes well within that,
            // however slow a loaded machine makes the first.
            setup.tenants[0].limits = TenantLimits(perSubjectRequestsPerSecond: 0.2)
        }) { h in
            let alice = h.token("alice")
            #expect(try await h.client.request("GET", "/t/acme/hello", headers: [h.bearer(alice)]).status == 200)
            let limited = try await h.client.request("GET", "/t/acme/hello", headers: [h.bearer(alice)])
            #expect(limited.status == 429, "\(limited.status)")
            #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
            #expect(limited.json?["error"] == .string("rate_limited"))
            #expect(try await h.client.request("GET", "/t/acme/hello", headers: [h.bearer(h.token("bob"))]).status == 200)
        }
    }

    @Test func oneUsersConcurrentRequestsAreBounded() async throws {
        try await withHarness({ setup, _, _ in
            setup.tenants[0].limits = TenantLimits(perSubjectMaxConcurrentRequests: 1)
        }) { h in
            let alice = h.token("alice")
            let port = h.gatehouse.dataPort
            // A stream that lasts: alice's one slot is in use while it runs.
            let long = Task {
                try await RawClient(port: port).request("GET", "/t/acme/sse?count=6&interval_ms=300", headers: [("Authorization", "Bearer \(alice)")])
            }
            #expect(await eventually(within: 10) { h.acme.flatMap { $0.received() }.contains { $0.uri.hasPrefix("/sse") } })
            let second = try await h.client.request("GET", "/t/acme/hello", headers: [h.bearer(alice)])
            #expect(second.status == 429 && second.json?["error"] == .string("concurrency_limited"), "\(second.status) \(second.text)")
            #expect(try await h.client.request("GET", "/t/acme/hello", headers: [h.bearer(h.token("bob"))]).status == 200)
            #expect(try await long.value.status == 200)
            // The slot is given back when the stream ends.
            #expect(try await h.client.request("GET", "/t/acme/hello", headers: [h.bearer(alice)]).status == 200)
        }
    }
}
