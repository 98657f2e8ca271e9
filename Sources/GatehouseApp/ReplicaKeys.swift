import GatehouseCore
import GatehouseIdentity
import GatehouseSessions
import Logging
import Synchronization

/// Keeps this replica's public assertion keys registered in the store, and the other replicas'
/// keys published on this replica's `/.gatehouse/jwks.json`: each replica signs with a private
/// key of its own (its own `assertion.key_dir`), and an agent verifies an assertion from any
/// of them whichever replica's key set it fetched.
///
/// Liveness: a replica registers its keys again every `heartbeat`, each time for `keep` from
/// then. `keep` is ten minutes — twenty heartbeats, so that a replica cut off from the database
/// for a while, or with a clock somewhat off, is not withdrawn while it still signs — plus one
/// and a half assertion lifetimes, so that an assertion handed out just before the replica went
/// (a reused one is up to half a lifetime old) still verifies until it expires. Rows whose time
/// is up are deleted at the next heartbeat of any replica: a replica that is gone for good
/// leaves every key set within `keep` of its last heartbeat.
final class ReplicaKeys: Sendable {
    static let heartbeat: Duration = .seconds(30)
    /// Read at most this many keys (the longest-lived): a bounded key set whatever the table holds.
    static let maxPublished = 256

    private let keys: PublishedAssertionKeys
    private let store: any ReplicaStore
    let keep: Double
    private let clock: WallClock
    private let logger: Logger
    /// Unusable rows: logged at most once a minute (whoever can write the table could fill the log).
    private let unusable = Mutex(LogThrottle(interval: .seconds(60)))

    init(keys: PublishedAssertionKeys, store: any ReplicaStore, ttlSeconds: Int, clock: @escaping WallClock, logger: Logger) {
        self.keys = keys
        self.store = store
        self.keep = 600 + Double(ttlSeconds) * 1.5
        self.clock = clock
        self.logger = logger
    }

    /// Registers this replica's keys (again) until `keep` from now, and removes expired rows.
    func register() async throws {
        let now = clock()
        try await store.registerReplicaKeys(keys.own.map { ReplicaKeyRecord(kid: $0.kid, publicKey: $0.x963, expiresAt: now + keep) })
        _ = try await store.deleteExpiredReplicaKeys(now: now)
    }

    /// Publishes the live keys the store holds next to this replica's own, in place of those
    /// read before. A row that is not a usable key is skipped: a bad row never breaks the key set.
    func refresh() async throws {
        let records = try await store.replicaKeys(now: clock(), limit: Self.maxPublished)
        let usable = records.compactMap { PublicAssertionKey(kid: $0.kid, x963: $0.publicKey) }
        keys.setPeers(usable)
        let skipped = records.count - usable.count
        if skipped > 0, let notLogged = unusable.withLock({ $0.admit() }) {
            logger.warning(
                "unusable replica key rows skipped (not a P-256 key, or a bad kid)",
                metadata: ["rows": "\(skipped)", "not_logged_since_last": "\(notLogged)"])
        }
    }

    /// `register` and `refresh` every `heartbeat` until cancelled; a failure is logged and
    /// retried at the next one.
    func runPeriodically() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.heartbeat)
            if Task.isCancelled { return }
            do {
                try await register()
                try await refresh()
            } catch {
                logger.warning("assertion keys not re-registered", metadata: ["error": "\(error)"])
            }
        }
    }
}
