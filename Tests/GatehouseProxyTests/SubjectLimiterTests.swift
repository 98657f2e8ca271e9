import Testing

@testable import GatehouseProxy

/// Per-caller limits (tenants/README.md `limits`): a bucket and a slot count per `iss` + `sub`,
/// in bounded memory.
@Suite struct SubjectLimiterTests {
    static let alice = SubjectLimiter.Key(issuer: "https://idp", subject: "alice")
    static let bob = SubjectLimiter.Key(issuer: "https://idp", subject: "bob")

    @Test func eachCallerHasItsOwnBucket() {
        let limiter = SubjectLimiter(rate: 2, maxConcurrent: 0)
        #expect(limiter.admit(Self.alice, now: 100) == .allowed(slot: false))
        #expect(limiter.admit(Self.alice, now: 100) == .allowed(slot: false))
        #expect(limiter.admit(Self.alice, now: 100) == .rateLimited(retryAfter: 1))
        #expect(limiter.admit(Self.bob, now: 100) == .allowed(slot: false), "another caller is not held back")
        #expect(limiter.admit(Self.alice, now: 100.5) == .allowed(slot: false), "half a second refills one token")
        // Same subject from another issuer is another caller.
        #expect(limiter.admit(SubjectLimiter.Key(issuer: "https://other", subject: "alice"), now: 100.5) == .allowed(slot: false))
    }

    @Test func concurrencyIsCountedPerCaller() {
        let limiter = SubjectLimiter(rate: 0, maxConcurrent: 2)
        #expect(limiter.admit(Self.alice, now: 0) == .allowed(slot: true))
        #expect(limiter.admit(Self.alice, now: 0) == .allowed(slot: true))
        #expect(limiter.admit(Self.alice, now: 0) == .concurrencyLimited)
        #expect(limiter.admit(Self.bob, now: 0) == .allowed(slot: true))
        limiter.release(Self.alice)
        #expect(limiter.admit(Self.alice, now: 0) == .allowed(slot: true))
        limiter.release(Self.bob)
        limiter.release(Self.bob)  // one too many: ignored
        #expect(limiter.admit(Self.bob, now: 0) == .allowed(slot: true))
    }

    @Test func manyCallersCostBoundedMemory() {
        let limiter = SubjectLimiter(rate: 1, maxConcurrent: 1, capacity: 100)
        for i in 0..<10_000 {
            let key = SubjectLimiter.Key(issuer: "https://idp", subject: "user-\(i)")
            if case .allowed(let slot) = limiter.admit(key, now: Double(i)), slot { limiter.release(key) }
            #expect(limiter.tracked <= 100)
        }
        // A busy caller is never forgotten while its request is in progress.
        let busy = SubjectLimiter(rate: 0, maxConcurrent: 1, capacity: 4)
        #expect(busy.admit(Self.alice, now: 0) == .allowed(slot: true))
        for i in 0..<50 { _ = busy.admit(SubjectLimiter.Key(issuer: "i", subject: "u\(i)"), now: 0) }
        #expect(busy.admit(Self.alice, now: 0) == .concurrencyLimited, "alice's slot survived the churn")
    }
}
