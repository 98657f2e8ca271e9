import GatehouseAdmin
import GatehouseConfig
import GatehouseCore
import GatehouseHTTP
import GatehouseIdentity
import GatehousePostgres
import GatehouseProxy
import GatehouseSessions
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// One running Gatehouse: the data plane, the admin listener and the background work
/// (key-set refresh, tenant-file reload), wired from one validated snapshot.
public final class Gatehouse: Sendable {
    public struct Options: Sendable {
        /// Write one access-log line per request to stdout.
        public var accessLog: Bool = true
        public var clock: WallClock = SystemWallClock.now
        /// Replaces the HTTP fetcher for IdP documents (tests use it only for hostile documents).
        public var fetcher: (any DocumentFetcher)?
        /// Poll the tenants folder for changes every second.
        public var watchTenants: Bool = true
        /// Resolves IdP host names (tests point public-looking names at loopback to check that
        /// the request-forgery guard judges the address actually connected to).
        public var resolver: (any HostResolver)?
        /// Number of event-loop threads (0 = one per CPU this process may run on).
        public var threads: Int = 0

        public init() {}
    }

    public let runtime: ProxyRuntime
    public let metrics: GatehouseMetrics
    public let keySets: KeySetCache
    public let tokenCache: VerifiedTokenCache
    public let sessions: SessionTable
    public let flows: OAuthFlows
    public let store: any GatehouseStore
    private let group: MultiThreadedEventLoopGroup
    private let proxy: ProxyServer
    private let admin: AdminServer
    private let logger: Logger
    /// The listener's certificate and key files (re-read by `reloadTLS`; the paths need a restart).
    private let listenerTLS: ListenerTLS?
    private let options: Options
    private let ports = Mutex<(data: Int, admin: Int)>((0, 0))
    private let stopped = Mutex(false)
    /// Set when shutdown begins: `/readyz` answers 503 from then on.
    private let draining: DrainingFlag
    private let background = Mutex<[Task<Void, Never>]>([])
    private let watcher: TenantDirectoryWatcher?
    /// Tenant files plus registered IdPs: the configuration in force.
    private let live: LiveConfiguration
    /// Cross-replica change propagation (PostgreSQL store only).
    private let replicaSync: ReplicaSync?
    /// With a shared store: this replica in the registry that sets its share of the limits.
    private let presence: ReplicaPresence?
    /// This replica's assertion keys in the store, the others' in the key set (assertions on).
    let replicaKeys: ReplicaKeys?
    /// Checked against the store at start: a replica with another key refuses to serve.
    private let sealingKey: SealingKey
    /// The OTLP exporter behind `tracing:`, replaced when the setting changes.
    private let tracing: TracingBackend

    public init(snapshot: ConfigSnapshot, options: Options = Options()) throws {
        let settings = snapshot.settings
        var logger = Logger(label: "gatehouse")
        logger.logLevel = Logger.Level(rawValue: settings.logLevel.rawValue) ?? .info
        self.logger = logger
        self.listenerTLS = settings.tls
        self.options = options
        let metrics = GatehouseMetrics()
        self.metrics = metrics
        let threads = options.threads > 0 ? options.threads : UsableCPUs.count
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        self.group = group
        let fetcher = options.fetcher ?? HTTPDocumentFetcher(
            client: HTTPClient(group: group, resolver: options.resolver ?? SystemHostResolver()), insecureHosts: settings.identity.insecureIdPHosts)
        let tracers = TracerSwitch()
        self.tracing = TracingBackend(tracers: tracers, logger: logger)
        let keySets = KeySetCache(
            settings: settings.identity, fetcher: fetcher, clock: options.clock, metrics: metrics, logger: logger, tracing: tracers)
        self.keySets = keySets
        let cache = VerifiedTokenCache(capacity: settings.identity.tokenCacheEntries, metrics: metrics)
        self.tokenCache = cache
        let authenticator = Authenticator(
            settings: settings.identity, keySets: keySets, cache: cache, clock: options.clock, metrics: metrics, logger: logger)
        let signer: AssertionSigner? =
            settings.assertion.enabled
            ? try AssertionSigner(
                keyDirectory: settings.assertion.keyDir, issuer: settings.assertion.issuer, ttlSeconds: settings.assertion.ttlSeconds,
                clock: options.clock)
            : nil
        let store: any GatehouseStore
        switch settings.store {
        case .sqlite(let path):
            store = try SQLiteSessionStore(path: path, logger: logger)
        case .postgres(let url):
            // Connects and migrates on first use: `start()` loading the bindings.
            store = try PostgresStore(url: url, logger: logger)
        }
        self.store = store
        let sessions = SessionTable(store: store, shared: store is PostgresStore, clock: options.clock, metrics: metrics, logger: logger)
        self.sessions = sessions
        let sealingKey = try SealingKey.load(
            path: settings.sealingKeyFile ?? settings.assertion.keyDir + "/" + SealingKey.defaultFileName,
            createIfMissing: settings.sealingKeyFile == nil)
        self.sealingKey = sealingKey
        let flows = OAuthFlows(
            store: store, sealingKey: sealingKey, completionPoster: HTTPCompletionPoster(client: HTTPClient(group: group)),
            clock: options.clock, logger: logger)
        self.flows = flows
        let runtime = ProxyRuntime(
            snapshot: snapshot, authenticator: authenticator, signer: signer, sessions: sessions, flows: flows, metrics: metrics, logger: logger,
            clock: options.clock, accessLog: options.accessLog, tracing: tracers)
        self.runtime = runtime
        self.proxy = try ProxyServer(runtime: runtime, group: group)
        let draining = DrainingFlag()
        self.draining = draining
        self.admin = AdminServer(
            listen: settings.adminListen, group: group, metrics: metrics.registry,
            readiness: {
                if draining.isSet { return (ready: false, reason: "shutting down") }
                return await store.ping() ? (ready: true, reason: nil) : (ready: false, reason: "store unreachable")
            },
            logger: logger)
        self.watcher = options.watchTenants ? TenantDirectoryWatcher(directory: settings.tenantsDir) : nil
        let live = LiveConfiguration(
            fileSnapshot: snapshot, runtime: runtime, keySets: keySets, tokenCache: cache, metrics: metrics, logger: logger)
        self.live = live
        let replicaKeys = signer.map {
            ReplicaKeys(keys: $0.keys, store: store, ttlSeconds: settings.assertion.ttlSeconds, clock: options.clock, logger: logger)
        }
        self.replicaKeys = replicaKeys
        if let postgres = store as? PostgresStore {
            self.replicaSync = ReplicaSync(store: postgres, sessions: sessions, live: live, keys: replicaKeys, logger: logger)
            self.presence = ReplicaPresence(store: postgres, share: runtime.replicas, clock: options.clock, logger: logger)
        } else {
            self.replicaSync = nil
            self.presence = nil
        }
        let adminAPI = AdminAPI(AdminAPI.Dependencies(
            control: live, store: store, sessionStore: store, sessions: sessions, keySets: keySets, tokenCache: cache,
            operatorToken: try OperatorTokenFile.ensure(settings, logger: logger), clock: options.clock, logger: logger))
        adminAPI.register(on: admin)
    }

    /// Ends a draining shutdown's grace period now (a second SIGTERM or SIGINT).
    public func endGraceNow() { draining.endGrace() }

    public var dataPort: Int { ports.withLock { $0.data } }
    public var adminPort: Int { ports.withLock { $0.admin } }
    public var snapshot: ConfigSnapshot { runtime.config.snapshot }

    /// Binds both listeners (port 0 picks free ports), fetches every IdP's keys, starts the
    /// background work. Returns once Gatehouse is serving.
    public func start() async throws {
        let settings = snapshot.settings
        // Keys are fetched before serving, but a slow IdP (or ten thousand of them) must not
        // hold the listeners closed: after 1 s the fetches carry on in the background, and a
        // token arriving meanwhile waits for its own IdP's fetch only (which goes ahead of the
        // others). The tenant files' IdPs are fetched while the store loads.
        let deadline = ContinuousClock.now + .seconds(1)
        tracing.apply(settings.tracing)
        let keySetsToPrime = keySets
        let fileSnapshot = snapshot
        Task.detached { await keySetsToPrime.prime(fileSnapshot, forgettingOthers: false) }
        try await sealingKey.verify(against: store)
        try await replicaSync?.prepare()
        await presence?.announce()
        if let replicaKeys {
            try await replicaKeys.register()
            try await replicaKeys.refresh()
            await replicaSync?.publish(.replicaKeys)
        }
        try await sessions.load()
        try await live.loadRegistered(from: store)
        let snapshotToPrime = snapshot  // with the registered IdPs; joins the fetches running
        let primed = Mutex(false)
        Task.detached {
            await keySetsToPrime.prime(snapshotToPrime)
            primed.withLock { $0 = true }
        }
        while !primed.withLock({ $0 }), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        let data = try await proxy.start(host: settings.listen.host, port: settings.listen.port, tls: settings.tls)
        let adminPort = try await admin.start()
        ports.withLock { $0 = (data, adminPort) }
        logger.notice(
            "gatehouse serving",
            metadata: [
                "listen": "\(settings.listen.host):\(data)", "admin": "\(settings.adminListen.host):\(adminPort)",
                "tenants": "\(snapshot.tenants.count)",
            ])
        for warning in ConfigWarnings.of(snapshot) { logger.warning("configuration warning", metadata: ["warning": "\(warning)"]) }
        let keySets = self.keySets
        let refresh = Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                if Task.isCancelled { break }
                await keySets.refreshDue()
            }
        }
        let sessions = self.sessions
        let flows = self.flows
        let sessionUpkeep = Task.detached {
            var ticks = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { break }
                await sessions.flushTouches()
                ticks += 1
                if ticks % 30 == 0 {
                    await sessions.sweep()
                    await flows.sweep()
                }
            }
        }
        var tasks = [refresh, sessionUpkeep]
        if let replicaKeys { tasks.append(Task.detached { await replicaKeys.runPeriodically() }) }
        if let presence { tasks.append(Task.detached { await presence.runPeriodically() }) }
        if let replicaSync {
            tasks.append(Task.detached { await replicaSync.listen() })
            tasks.append(Task.detached { await replicaSync.resyncPeriodically() })
        }
        if let watcher {
            let settingsWatcher = snapshot.settings.configFile.map { ConfigFileWatcher(path: $0) }
            let watch = Task.detached { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    if Task.isCancelled { break }
                    if settingsWatcher?.hasChanged() == true { _ = self?.reloadSettings() }
                    if watcher.hasChanged() { _ = self?.reloadTenants() }
                }
            }
            tasks.append(watch)
        }
        background.withLock { $0 = tasks }
    }

    /// Re-reads the tenants folder. A broken file keeps the configuration in force; the
    /// problems are logged and returned.
    @discardableResult
    public func reloadTenants() -> Result<Int, [ConfigProblem]> { live.reloadTenants() }

    /// Re-reads `gatehouse.yaml` (SIGHUP, or when it changes): settings that can change live
    /// apply at once, the others are logged as needing a restart; a broken file changes nothing.
    @discardableResult
    public func reloadSettings() -> Result<[String], [ConfigProblem]> {
        let result = live.reloadSettings(environment: Environment.current())
        if case .success(let applied) = result, applied.contains("tracing") { tracing.apply(snapshot.settings.tracing) }
        return result
    }

    /// Re-reads the listener's certificate and key (SIGHUP): new connections get them, open
    /// ones are not dropped; a file that cannot be used keeps the old pair. Returns whether the
    /// new pair is in use (true without `tls`: nothing to do).
    @discardableResult
    public func reloadTLS() -> Bool {
        guard let tls = listenerTLS else { return true }
        do {
            try proxy.reloadTLS(tls)
            logger.notice("tls certificate reloaded", metadata: ["certificate_file": "\(tls.certificateFile)"])
            return true
        } catch {
            logger.error(
                "tls certificate reload failed: the previous certificate stays in use",
                metadata: ["certificate_file": "\(tls.certificateFile)", "error": "\(error)"])
            return false
        }
    }

    /// Stops everything; calling it again does nothing. With a `grace` (the
    /// `limits.shutdown_grace_seconds` setting when nil), it drains first: `/readyz` turns 503,
    /// the data listener stops accepting, idle HTTP/1.1 connections close and busy ones close
    /// after their response, and requests in progress get until the grace ends to finish. Then
    /// every connection still open is closed. The admin listener answers until the end.
    public func shutdown(grace: Duration? = .zero) async {
        guard stopped.withLock({ s in defer { s = true }; return !s }) else { return }
        let grace = grace ?? .milliseconds(Int64(snapshot.settings.limits.shutdownGraceSeconds * 1000))
        await proxy.stopAccepting()
        draining.set()  // after: a 503 from /readyz means the listener is closed
        if grace > .zero {
            let deadline = ContinuousClock.now + grace
            let waiting = runtime.activeRequests
            if waiting > 0 { logger.notice("draining", metadata: ["requests": "\(waiting)", "grace_seconds": "\(grace.components.seconds)"]) }
            while runtime.activeRequests > 0, ContinuousClock.now < deadline, !draining.graceEnded {
                try? await Task.sleep(for: .milliseconds(20))
            }
            let left = runtime.activeRequests
            if left > 0 { logger.warning("grace period over: requests cut", metadata: ["requests": "\(left)"]) }
        }
        for task in background.withLock({ $0 }) { task.cancel() }
        await presence?.withdraw()
        await proxy.closeConnections()
        try? await admin.shutdown()
        try? await group.shutdownGracefully()
        // Last: the final requests may have slid expiries or still been writing bindings.
        await sessions.flushTouches()
        if let sqlite = store as? SQLiteSessionStore { await sqlite.close() }
        if let postgres = store as? PostgresStore { await postgres.close() }
        await tracing.shutdown()  // last: the final requests' spans go out
    }
}

public struct GatehouseStartError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Set once, read by `/readyz`.
final class DrainingFlag: Sendable {
    private let value = Atomic<Bool>(false)
    private let ended = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    var graceEnded: Bool { ended.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
    func endGrace() { ended.store(true, ordering: .relaxed) }
}
