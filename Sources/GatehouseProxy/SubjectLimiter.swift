import GatehouseCore
import Synchronization

/// Per-caller limits of one tenant (`limits.per_subject_requests_per_second`,
/// `limits.per_subject_max_concurrent_requests`, tenants/README.md `limits`): a token bucket and
/// an in-flight count per `iss` + `sub`, so that one user cannot use up the tenant's share.
///
/// Memory is bounded: at most `capacity` callers are tracked. When the table is full, callers at
/// rest (bucket full again, nothing in flight) are forgotten first — forgetting one costs nothing,
/// it would start from a full bucket anyway; only when every tracked caller is busy is a new one
/// admitted untracked (the tenant's own limits still hold).
final class SubjectLimiter: Sendable {
    struct Key: Hashable {
        var issuer: String
        var subject: String
    }

    struct State {
        var tokens: Double
        var updatedAt: Double
        var inFlight: Int
    }

    /// The limits for the whole deployment; each replica enforces its share of them.
    let totalRate: Double
    let totalMaxConcurrent: Int
    let capacity: Int
    let share: ReplicaShare
    private let table: Mutex<[Key: State]>

    init(rate: Double, maxConcurrent: Int, capacity: Int = 10_000, share: ReplicaShare = .whole) {
        self.totalRate = rate
        self.totalMaxConcurrent = maxConcurrent
        self.capacity = capacity
        self.share = share
        self.table = Mutex([:])
    }

    /// Callers tracked now (for tests and metrics).
    var tracked: Int { table.withLock { $0.count } }

    enum Decision: Equatable {
        /// Admitted; `slot`: a concurrency slot was taken and `release` must be called once.
        case allowed(slot: Bool)
        case rateLimited(retryAfter: Int)
        case concurrencyLimited
    }

    /// One request of `key` at `now`: a token, then (when limited) a concurrency slot.
    func admit(_ key: Key, now: Double) -> Decision {
        let rate = share.rate(totalRate)
        let maxConcurrent = share.concurrency(totalMaxConcurrent)
        return table.withLock { table in
            var state = table[key] ?? State(tokens: max(1, rate), updatedAt: now, inFlight: 0)
            if rate > 0 {
                let burst = max(1, rate)
                state.tokens = min(burst, state.tokens + (now - state.updatedAt) * rate)
                state.updatedAt = now
                guard state.tokens >= 1 else {
                    table[key] = state
                    return .rateLimited(retryAfter: max(1, Int(((1 - state.tokens) / rate).rounded(.up))))
                }
            }
            if maxConcurrent > 0, state.inFlight >= maxConcurrent {
                if table[key] != nil { table[key] = state }
                return .concurrencyLimited
            }
            if rate > 0 { state.tokens -= 1 }
            let slot = maxConcurrent > 0
            if slot { state.inFlight += 1 }
            if table[key] == nil, table.count >= capacity {
                Self.forgetIdle(&table, now: now, rate: rate, capacity: capacity)
                // Everyone tracked is busy: admitted untracked, the tenant's limits still apply.
                if table.count >= capacity { return .allowed(slot: false) }
            }
            table[key] = state
            return .allowed(slot: slot)
        }
    }

    func release(_ key: Key) {
        table.withLock { table in
            guard var state = table[key], state.inFlight > 0 else { return }
            state.inFlight -= 1
            table[key] = state
        }
    }

    /// Drops callers at rest; if none is, the half of those with nothing in flight that were
    /// seen longest ago.
    private static func forgetIdle(_ table: inout [Key: State], now: Double, rate: Double, capacity: Int) {
        let burst = max(1, rate)
        table = table.filter { _, s in s.inFlight > 0 || (rate > 0 && s.tokens + (now - s.updatedAt) * rate < burst) }
        guard table.count >= capacity else { return }
        let idle = table.filter { $0.value.inFlight == 0 }.sorted { $0.value.updatedAt < $1.value.updatedAt }
        for (key, _) in idle.prefix(max(1, idle.count / 2)) { table[key] = nil }
    }
}
