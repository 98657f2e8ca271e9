import Synchronization

/// How many replicas share the tenants' limits (docs/store-and-replicas.md "Limits across
/// replicas"): with a shared store each replica enforces 1/N of every rate and concurrency
/// limit, N being the replicas live in the store's registry. 1 for a replica alone (SQLite).
public final class ReplicaShare: Sendable {
    private let replicas = Atomic<Int>(1)

    public init() {}

    /// A share that is never changed: one replica.
    public static let whole = ReplicaShare()

    public var count: Int { max(1, replicas.load(ordering: .relaxed)) }

    public func set(replicas n: Int) { replicas.store(max(1, n), ordering: .relaxed) }

    /// This replica's part of a rate (per second).
    func rate(_ total: Double) -> Double {
        let n = count
        return n == 1 ? total : total / Double(n)
    }

    /// This replica's part of a concurrency limit: at least 1 (0, unlimited, stays 0).
    func concurrency(_ total: Int) -> Int {
        let n = count
        guard total > 0, n > 1 else { return total }
        return max(1, (total + n - 1) / n)
    }
}
