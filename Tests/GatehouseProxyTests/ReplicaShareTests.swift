import GatehouseCore
import Testing

@testable import GatehouseProxy

/// Each replica of a shared store enforces its share of a tenant's limits: 1/N of the rate and
/// of the concurrency (at least 1), of the per-caller limits too; whole limits alone.
@Suite struct ReplicaShareTests {
    @Test func aTenantsRateAndConcurrencyAreSharedAndGrowBackWhenAReplicaGoes() {
        let share = ReplicaShare()
        let limiter = TenantLimiter(limits: TenantLimits(requestsPerSecond: 10, maxConcurrentRequests: 5), now: 0, share: share)
        share.set(replicas: 2)
        // A burst of one second's share: 5 of the 10.
        var admitted = 0
        while case .allowed = limiter.admitRate(now: 0) { admitted += 1 }
        #expect(admitted == 5)
        // Refilled at 5 a second.
        if case .allowed = limiter.admitRate(now: 0.1) { Issue.record("0.5 token is not a request") }
        #expect({ if case .allowed = limiter.admitRate(now: 0.2) { true } else { false } }())
        // Concurrency: ceil(5 / 2) = 3 here.
        #expect((0..<4).map { _ in limiter.acquireSlot() } == [true, true, true, false])
        share.set(replicas: 1)
        #expect(limiter.acquireSlot() && limiter.acquireSlot() && !limiter.acquireSlot(), "alone again: all 5")
        share.set(replicas: 0)
        #expect(share.count == 1, "never fewer than this replica")
    }

    @Test func aCallersLimitsAreSharedToo() {
        let share = ReplicaShare()
        share.set(replicas: 4)
        let limiter = TenantLimiter(
            limits: TenantLimits(perSubjectRequestsPerSecond: 8, perSubjectMaxConcurrentRequests: 2), now: 0, share: share)
        let subjects = try! #require(limiter.subjects)
        let alice = SubjectLimiter.Key(issuer: "https://idp", subject: "alice")
        #expect(subjects.admit(alice, now: 0) == .allowed(slot: true))
        #expect(subjects.admit(alice, now: 0) == .concurrencyLimited, "ceil(2 / 4) = 1 slot here")
        subjects.release(alice)
        #expect(subjects.admit(alice, now: 0) == .allowed(slot: true))
        subjects.release(alice)
        #expect(subjects.admit(alice, now: 0) == .rateLimited(retryAfter: 1), "8/s over 4 replicas: a burst of 2 here")
    }
}
