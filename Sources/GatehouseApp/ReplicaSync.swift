import GatehouseCore
import GatehousePostgres
import GatehouseSessions
import Logging
import Synchronization

/// Keeps replicas that share one PostgreSQL store in step: each change a replica makes to
/// bindings, registered IdPs or its assertion keys is announced with NOTIFY, and every replica
/// LISTENs and drops or re-reads what changed — well within a second on a working network.
/// Nothing but the database is needed: the payloads carry no secret (`ReplicaChangeCodec`),
/// so replicas with state folders of their own stay in step.
///
/// PostgreSQL delivers every notification to a connected listener, so one can only be missed
/// while this replica is not listening (the connection broke, the database restarted). The
/// listener therefore re-reads everything each time its LISTEN is (re-)established, and the
/// registered IdPs are also re-read every `resyncInterval` as a second line of defence (the
/// keys are re-read by `ReplicaKeys` at each heartbeat).
///
/// Anyone who may NOTIFY on the database can send anything on the channel: a payload that does
/// not decode is dropped (and logged at most once a minute), and re-reads it asks for are
/// coalesced, one in flight per kind.
final class ReplicaSync: Sendable {
    static let channel = "gatehouse_changes"

    private let store: PostgresStore
    private let codec = ReplicaChangeCodec()
    private let sessions: SessionTable
    private let live: LiveConfiguration
    private let keys: ReplicaKeys?
    private let logger: Logger
    private let resyncInterval: Duration
    private let unreadable = Mutex(LogThrottle(interval: .seconds(60)))
    private let idpRefresh: CoalescedRefresh
    private let keyRefresh: CoalescedRefresh?

    init(
        store: PostgresStore, sessions: SessionTable, live: LiveConfiguration, keys: ReplicaKeys?, logger: Logger,
        resyncInterval: Duration = .seconds(30)
    ) {
        self.store = store
        self.sessions = sessions
        self.live = live
        self.keys = keys
        self.logger = logger
        self.resyncInterval = resyncInterval
        idpRefresh = CoalescedRefresh {
            do {
                try await live.syncRegistered(from: store)
            } catch {
                logger.warning("registered IdPs not re-synced", metadata: ["error": "\(error)"])
            }
        }
        keyRefresh = keys.map { keys in
            CoalescedRefresh {
                do {
                    try await keys.refresh()
                } catch {
                    logger.warning("assertion keys of other replicas not re-read", metadata: ["error": "\(error)"])
                }
            }
        }
        sessions.setAnnouncer { [weak self] key in
            guard let self, let digest = sessions.changeDigest(key) else { return }
            await publish(.binding(digest))
        }
        live.setAnnouncer { [weak self] _ in await self?.publish(.registeredIdPs) }
    }

    /// Before the bindings are loaded: indexes them by the digest other replicas name them by,
    /// with the salt the first replica settled in the store.
    func prepare() async throws {
        let salt = try await store.settledValue(BindingDigester.saltName, proposing: Secrets.randomBytes(BindingDigester.saltByteCount))
        guard let digester = BindingDigester(salt: salt) else {
            throw GatehouseStartError(message: "the store's \(BindingDigester.saltName) is damaged (shorter than \(BindingDigester.saltByteCount) bytes)")
        }
        sessions.indexForReplicaChanges(digester)
    }

    /// Best effort: a change that cannot be announced reaches the others at their next re-sync.
    func publish(_ change: ReplicaChange) async {
        do {
            try await store.notify(channel: Self.channel, payload: codec.encode(change))
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
                        handle(payload)
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
            idpRefresh.request()
        }
    }

    private func resync(reason: String) async {
        do {
            try await sessions.load(replacing: true)
            try await live.syncRegistered(from: store)
            try await keys?.refresh()
            logger.info("replica state re-synced from the store", metadata: ["reason": "\(reason)"])
        } catch {
            logger.warning("replica re-sync failed", metadata: ["error": "\(error)"])
        }
    }

    /// Never waits: the listener reads the next notification at once, whatever this one asked.
    private func handle(_ payload: String) {
        guard let (origin, change) = codec.decode(payload) else {
            if let skipped = unreadable.withLock({ $0.admit() }) {
                logger.warning(
                    "unreadable replica change notification ignored (another deployment, or a newer Gatehouse, on the same database?)",
                    metadata: ["not_logged_since_last": "\(skipped)"])
            }
            return
        }
        guard origin != codec.origin else { return }
        switch change {
        case .binding(let digest): sessions.evict(digest: digest)
        case .registeredIdPs: idpRefresh.request()
        case .replicaKeys: keyRefresh?.request()
        }
    }
}
