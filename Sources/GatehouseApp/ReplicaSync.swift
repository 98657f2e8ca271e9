import GatehouseCore
import GatehousePostgres
import GatehouseSessions
import Logging
import Synchronization

/// Keeps replicas that share one PostgreSQL store in step (DESIGN 9): each change a replica
/// makes to bindings or registered IdPs is announced with NOTIFY, and every replica LISTENs and
/// drops or re-reads what changed — well within a second on a working network.
///
/// PostgreSQL delivers every notification to a connected listener, so one can only be missed
/// while this replica is not listening (the connection broke, the database restarted). The
/// listener therefore re-reads everything each time its LISTEN is (re-)established, and the
/// registered IdPs are also re-read every `resyncInterval` as a second line of defence.
final class ReplicaSync: Sendable {
    static let channel = "gatehouse_changes"

    private let store: PostgresStore
    private let codec: ReplicaChangeCodec
    private let sessions: SessionTable
    private let live: LiveConfiguration
    private let metrics: GatehouseMetrics
    private let logger: Logger
    private let resyncInterval: Duration
    /// Unreadable notifications: logged at most once a minute (anyone who may NOTIFY on the
    /// database could otherwise fill the log), with how many were not logged.
    private let unreadable = Mutex(LogThrottle(interval: .seconds(60)))

    init(
        store: PostgresStore, codec: ReplicaChangeCodec, sessions: SessionTable, live: LiveConfiguration, metrics: GatehouseMetrics,
        logger: Logger, resyncInterval: Duration = .seconds(30)
    ) {
        self.store = store
        self.codec = codec
        self.sessions = sessions
        self.live = live
        self.metrics = metrics
        self.logger = logger
        self.resyncInterval = resyncInterval
        sessions.setAnnouncer { [weak self] key in await self?.publish(.binding(key)) }
        live.setAnnouncer { [weak self] tenant in await self?.publish(.registeredIdPs(tenant)) }
    }

    /// Best effort: a change that cannot be announced reaches the others at their next re-sync.
    func publish(_ change: ReplicaChange) async {
        do {
            try await store.notify(channel: Self.channel, payload: try codec.encode(change))
        } catch {
            logger.warning("change not announced to other replicas", metadata: ["error": "\(error)"])
        }
    }

    /// Listens until cancelled, reconnecting with a growing pause (0.25 s up to 5 s).
    func listen() async {
        var pause = 0.25
        while !Task.isCancelled {
            do {
                try await store.listen(
                    channel: Self.channel,
                    onListening: { [self] in
                        await resync(reason: "listening")
                    },
                    onNotification: { [self] payload in
                        await handle(payload)
                    })
                if Task.isCancelled { return }
            } catch {
                if Task.isCancelled { return }
                logger.warning("replica change listener lost; retrying", metadata: ["error": "\(error)", "retry_in_s": "\(pause)"])
            }
            try? await Task.sleep(for: .milliseconds(Int(pause * 1000)))
            pause = min(5, pause * 2)
        }
    }

    /// Re-reads the registered IdPs every `resyncInterval` until cancelled.
    func resyncPeriodically() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: resyncInterval)
            if Task.isCancelled { return }
            do {
                try await live.syncRegistered(from: store)
            } catch {
                logger.warning("registered IdPs not re-synced", metadata: ["error": "\(error)"])
            }
        }
    }

    private func resync(reason: String) async {
        do {
            try await sessions.load(replacing: true)
            try await live.syncRegistered(from: store)
            logger.info("replica state re-synced from the store", metadata: ["reason": "\(reason)"])
        } catch {
            logger.warning("replica re-sync failed", metadata: ["error": "\(error)"])
        }
    }

    private func handle(_ payload: String) async {
        guard let (origin, change) = codec.decode(payload) else {
            // Another deployment on the same database, or a replica with another key folder.
            let skipped = unreadable.withLock { $0.admit() }
            if let skipped {
                logger.warning(
                    "unreadable replica change ignored (is assertion.key_dir the same on every replica?)",
                    metadata: ["not_logged_since_last": "\(skipped)"])
            }
            return
        }
        guard origin != codec.origin else { return }
        switch change {
        case .binding(let key):
            sessions.evict(key)
        case .registeredIdPs:
            do {
                try await live.syncRegistered(from: store)
            } catch {
                logger.warning("registered IdPs not re-synced", metadata: ["error": "\(error)"])
            }
        }
    }
}
