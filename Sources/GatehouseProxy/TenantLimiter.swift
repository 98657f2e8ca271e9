import GatehouseCore
import Synchronization

/// Per-tenant request-rate (token bucket) and concurrency limits (tenants/README.md `limits`).
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

    init(limits: TenantLimits, now: Double) {
        self.limits = limits
        self.bucket = Mutex(Bucket(tokens: max(1, limits.requestsPerSecond), updatedAt: now))
        self.subjects = limits.limitsSubjects
            ? SubjectLimiter(rate: limits.perSubjectRequestsPerSecond, maxConcurrent: limits.perSubjectMaxConcurrentRequests) : nil
    }

    enum Decision {
        case allowed
        /// Seconds until a request would be allowed (rounded up for `Retry-After`).
        case limited(retryAfter: Int)
    }

    /// Takes one token; burst capacity is one second's worth (at least 1).
    func admitRate(now: Double) -> Decision {
        let rate = limits.requestsPerSecond
        guard rate > 0 else { return .allowed }
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
        let max = limits.maxConcurrentRequests
        guard max > 0 else { return true }
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
