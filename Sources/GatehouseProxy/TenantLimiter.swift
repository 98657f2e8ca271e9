import GatehouseCore
import Synchronization

/// Per-tenant request-rate (token bucket) and concurrency limits (tenants/README.md `limits`),
/// this replica's share of them.
final class TenantLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var updatedAt: Double
    }

    let limits: TenantLimits
    private let bucket: Mutex<Bucket>
    private let inFlight = Atomic<Int>(0)
    /// Per-caller limits, when the tenant sets any.
    let subjects: SubjectLimiter?

    /// This replica's share of the limits (all of them when it runs alone).
    let share: ReplicaShare

    init(limits: TenantLimits, now: Double, share: ReplicaShare = .whole) {
        self.limits = limits
        self.share = share
        self.bucket = Mutex(Bucket(tokens: max(1, share.rate(limits.requestsPerSecond)), updatedAt: now))
        self.subjects = limits.limitsSubjects
            ? SubjectLimiter(rate: limits.perSubjectRequestsPerSecond, maxConcurrent: limits.perSubjectMaxConcurrentRequests, share: share) : nil
    }

    enum Decision {
        case allowed
        /// Seconds until a request would be allowed (rounded up for `Retry-After`).
        case limited(retryAfter: Int)
    }

    /// Takes one token; burst capacity is one second's worth (at least 1).
    func admitRate(now: Double) -> Decision {
        guard limits.requestsPerSecond > 0 else { return .allowed }
        let rate = share.rate(limits.requestsPerSecond)
        return bucket.withLock { b in
            let capacity = max(1, rate)
            b.tokens = min(capacity, b.tokens + (now - b.updatedAt) * rate)
            b.updatedAt = now
            if b.tokens >= 1 {
                b.tokens -= 1
                return .allowed
            }
            let wait = (1 - b.tokens) / rate
            return .limited(retryAfter: max(1, Int(wait.rounded(.up))))
        }
    }

    /// Reserves a concurrency slot; the caller must call `release()` exactly once when it got true.
    func acquireSlot() -> Bool {
        guard limits.maxConcurrentRequests > 0 else { return true }
        let max = share.concurrency(limits.maxConcurrentRequests)
        let now = inFlight.wrappingAdd(1, ordering: .relaxed).newValue
        if now > max {
            inFlight.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func releaseSlot() {
        guard limits.maxConcurrentRequests > 0 else { return }
        inFlight.wrappingSubtract(1, ordering: .relaxed)
    }
}
