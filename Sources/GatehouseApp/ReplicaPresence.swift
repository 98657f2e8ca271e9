import GatehouseCore
import GatehouseProxy
import GatehouseSessions
import Logging
import Synchronization

/// This replica's entry in the store's registry of running replicas, and the count of live ones
/// that sets each replica's share of the tenants' limits (docs/store-and-replicas.md "Limits
/// across replicas"). Every `heartbeat` the replica marks itself live for `lifetime` and reads
/// how many are live: a replica that starts is counted by the others within one heartbeat, one
/// that stops cleanly withdraws at once (counted out at the others' next heartbeat), and one that
/// dies is counted out within `lifetime` plus a heartbeat. Only with a shared store: a replica
/// alone enforces whole limits.
final class ReplicaPresence: Sendable {
    static let heartbeat: Duration = .seconds(2)
    /// Three heartbeats: one missed (a slow query, a pause) does not count a replica out.
    static let lifetime = 6.0

    let id: String
    private let store: any ReplicaStore
    private let share: ReplicaShare
    private let clock: WallClock
    private let logger: Logger
    private let failing = Mutex(false)

    init(store: any ReplicaStore, share: ReplicaShare, clock: @escaping WallClock, logger: Logger) {
        self.id = Base64URL.encode(Secrets.randomBytes(12))
        self.store = store
        self.share = share
        self.clock = clock
        self.logger = logger
    }

    /// Marks this replica live and takes the new count. A store that cannot be reached keeps the
    /// last count (the shares stay as they were rather than jumping to whole limits).
    func announce() async {
        let now = clock()
        do {
            let live = try await store.announceReplica(id, until: now + Self.lifetime, now: now)
            let before = share.count
            share.set(replicas: live)
            if failing.withLock({ f in defer { f = false }; return f }) { logger.notice("replica registry reachable again") }
            if live != before {
                logger.notice("replicas sharing the limits", metadata: ["replicas": "\(live)", "was": "\(before)"])
            }
        } catch {
            if !failing.withLock({ f in defer { f = true }; return f }) {
                logger.warning("replica registry not updated; limit shares stay as they were", metadata: ["error": "\(error)"])
            }
        }
    }

    func runPeriodically() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.heartbeat)
            if Task.isCancelled { return }
            await announce()
        }
    }

    /// Leaves the registry (a clean stop).
    func withdraw() async {
        do { try await store.withdrawReplica(id) } catch { logger.warning("replica not withdrawn from the registry", metadata: ["error": "\(error)"]) }
    }
}
