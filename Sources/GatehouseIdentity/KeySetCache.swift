import GatehouseCore
import Logging
import Synchronization
import Tracing

/// Every IdP's key set, fetched, cached and refreshed (docs/request-path.md "Key sets").
///
/// One entry per (tenant, IdP name, key-set location). Fetches are single flight per entry: all
/// callers that need a fetch while one is running wait for that one. An unknown `kid` may cause
/// at most one fetch per `jwksMinRefreshSeconds` (counting every fetch of that entry), so a
/// flood of invented `kid`s costs the IdP at most one request per interval. When fetching fails,
/// the last good keys keep serving until `fetchedAt + jwksMaxStaleSeconds`.
///
/// At most `maxConcurrentFetches` fetches run at once, so that loading thousands of tenants does
/// not open thousands of connections to IdPs at the same moment (which IdPs, and a shared IdP
/// host most of all, answer by closing them). A fetch a token is waiting for goes ahead of those
/// started by `prime` and `refreshDue`, and a queued one is moved up when a token comes to need it.
public final class KeySetCache: Sendable {
    public static let maxConcurrentFetches = 32

    struct EntryKey: Hashable, Sendable {
        var tenant: TenantID
        var idp: String
        var jwksURI: String?
        var discoveryURL: String?
        /// Part of the key because a discovery document is only trusted for this issuer.
        var issuer: String

        init(tenant: TenantID, idp: IdentityProvider) {
            self.tenant = tenant
            self.idp = idp.name
            self.jwksURI = idp.jwksURI
            self.discoveryURL = idp.discoveryURL
            self.issuer = idp.issuer
        }
    }

    struct Entry {
        /// Distinguishes an entry from a later one under the same key (after `remove`).
        let id: UInt64
        var idp: IdentityProvider
        var keySet: KeySet?
        /// When the keys in `keySet` were fetched.
        var fetchedAt: Double = 0
        var expiresAt: Double = 0
        var lifetime: Double = 0
        /// When the last fetch (of any kind) started: the rate limit for unknown-`kid` fetches.
        var lastAttemptAt: Double?
        var discovered: (uri: String, at: Double)?
        var inFlight: Task<Void, Never>?
        /// The running fetch's turn with `fetchSlots` (to promote it when a token waits for it).
        var inFlightTicket: AsyncLimiter.Ticket?
    }

    /// Live: the key-set timings change on reload (`update(settings:)`).
    private let liveSettings: LiveValue<IdentitySettings>
    var settings: IdentitySettings { liveSettings.value }
    private let fetcher: any DocumentFetcher
    private let clock: WallClock
    private let metrics: GatehouseMetrics?
    private let logger: Logger
    private let state = Mutex<(entries: [EntryKey: Entry], nextID: UInt64)>(([:], 0))
    private let fetchSlots = AsyncLimiter(limit: KeySetCache.maxConcurrentFetches)
    /// A token's wait for a fetch is a span of its request's trace (docs/observability.md "Traces").
    private let tracing: TracerSwitch?

    public init(
        settings: IdentitySettings, fetcher: any DocumentFetcher, clock: @escaping WallClock,
        metrics: GatehouseMetrics?, logger: Logger, tracing: TracerSwitch? = nil
    ) {
        self.tracing = tracing
        self.liveSettings = LiveValue(settings)
        self.fetcher = fetcher
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
    }

    /// New identity timings (a reload of `gatehouse.yaml`): used from the next fetch on.
    public func update(settings: IdentitySettings) { liveSettings.set(settings) }

    private var minRefresh: Double { Double(max(settings.jwksMinRefreshSeconds, 0)) }
    private var maxStale: Double { Double(max(settings.jwksMaxStaleSeconds, 0)) }

    // MARK: - Lookups from the verifier

    /// The keys to verify this IdP's tokens with: cached ones while fresh or within the stale
    /// allowance; otherwise waits for a fetch. Throws `.keysUnavailable` when there are none.
    public func keySet(tenant: TenantID, idp: IdentityProvider) async throws(AuthError) -> KeySet {
        let key = EntryKey(tenant: tenant, idp: idp)
        let now = clock()
        let task: (Task<Void, Never>, AsyncLimiter.Ticket?)? = state.withLock { state in
            var entry = self.entry(key, idp, in: &state)
            defer { state.entries[key] = entry }
            if entry.keySet != nil, now < entry.fetchedAt + maxStale { return nil }
            if let running = entry.inFlight { return (running, entry.inFlightTicket) }
            if let last = entry.lastAttemptAt, now - last < minRefresh { return nil }
            return (startFetch(key, &entry, now: now, urgent: true), nil)
        }
        return try await waitForFetch(task, key: key, idp: idp)
    }

    /// The keys `keySet(tenant:idp:)` would return at once, without waiting for anything; nil
    /// when a fetch would be needed first. Lets a token whose keys are cached be verified on the
    /// caller's thread.
    public func cachedKeySet(tenant: TenantID, idp: IdentityProvider) -> KeySet? {
        let key = EntryKey(tenant: tenant, idp: idp)
        let now = clock()
        return state.withLock { state -> KeySet? in
            guard let entry = state.entries[key], let keySet = entry.keySet, now < entry.fetchedAt + maxStale else { return nil }
            return keySet
        }
    }

    /// Called when a token names a `kid` the set does not hold: fetches again unless any fetch of
    /// this entry started within `jwksMinRefreshSeconds` (then joins a running one, or returns the
    /// current keys).
    public func refreshForUnknownKID(tenant: TenantID, idp: IdentityProvider) async throws(AuthError) -> KeySet {
        let key = EntryKey(tenant: tenant, idp: idp)
        let now = clock()
        let task: (Task<Void, Never>, AsyncLimiter.Ticket?)? = state.withLock { state in
            var entry = self.entry(key, idp, in: &state)
            defer { state.entries[key] = entry }
            if let running = entry.inFlight { return (running, entry.inFlightTicket) }
            if let last = entry.lastAttemptAt, now - last < minRefresh { return nil }
            return (startFetch(key, &entry, now: now, urgent: true), nil)
        }
        return try await waitForFetch(task, key: key, idp: idp, unknownKID: true)
    }

    /// Waits for a fetch a token needs; one started in the background and still queued for a
    /// turn is moved ahead first.
    private func waitForFetch(
        _ fetch: (task: Task<Void, Never>, queuedTicket: AsyncLimiter.Ticket?)?, key: EntryKey, idp: IdentityProvider, unknownKID: Bool = false
    ) async throws(AuthError) -> KeySet {
        guard let fetch else { return try servable(key) }
        let span = tracing?.childOfCurrent("fetch key set", kind: .client)
        if let span, span.isRecording {
            span.attributes["gatehouse.tenant"] = key.tenant.rawValue
            span.attributes["gatehouse.idp"] = idp.name
            if let url = (key.jwksURI ?? key.discoveryURL).flatMap(ParsedURL.init) { span.attributes["server.address"] = url.host }
            span.attributes["gatehouse.key_set.unknown_kid"] = unknownKID
        }
        if let ticket = fetch.queuedTicket { await fetchSlots.promote(ticket) }
        await fetch.task.value
        do {
            let keys = try servable(key)
            span?.end()
            return keys
        } catch {
            span?.attributes["error.type"] = error.reason
            span?.setStatus(SpanStatus(code: .error))
            span?.end()
            throw error
        }
    }

    /// Fetches waiting for a turn (see `maxConcurrentFetches`), and how many of them a token waits for.
    public var queuedFetches: (all: Int, urgent: Int) {
        get async { (await fetchSlots.waitingCount, await fetchSlots.waitingUrgentCount) }
    }

    private func servable(_ key: EntryKey) throws(AuthError) -> KeySet {
        let now = clock()
        let keySet: KeySet? = state.withLock { state in
            guard let entry = state.entries[key], let keySet = entry.keySet, now < entry.fetchedAt + maxStale else { return nil }
            return keySet
        }
        guard let keySet else {
            throw AuthError(.keysUnavailable, reason: AuthReason.keysUnavailable, detail: "no usable key set for idp \(key.idp)")
        }
        return keySet
    }

    // MARK: - Lifecycle

    /// Fetches every IdP's keys that are not already fresh, concurrently, and (unless
    /// `forgettingOthers` is false) forgets entries of IdPs no longer in `snapshot`. Failures are
    /// logged, not thrown: a token of that IdP will retry (rate-limited) or get `.keysUnavailable`.
    /// Call at load and after every config change.
    public func prime(_ snapshot: ConfigSnapshot, forgettingOthers: Bool = true) async {
        let now = clock()
        var wanted: [EntryKey: IdentityProvider] = [:]
        for tenantID in snapshot.tenantIDs {
            for idp in snapshot.tenants[tenantID]?.idps ?? [] { wanted[EntryKey(tenant: tenantID, idp: idp)] = idp }
        }
        let tasks: [Task<Void, Never>] = state.withLock { state in
            if forgettingOthers { state.entries = state.entries.filter { wanted[$0.key] != nil } }
            var tasks: [Task<Void, Never>] = []
            for (key, idp) in wanted {
                var entry = self.entry(key, idp, in: &state)
                defer { state.entries[key] = entry }
                if let running = entry.inFlight {
                    tasks.append(running)
                    continue
                }
                let fresh = entry.keySet != nil && now < entry.expiresAt
                let limited = entry.lastAttemptAt.map { now - $0 < minRefresh } ?? false
                if !fresh && !limited { tasks.append(startFetch(key, &entry, now: now)) }
            }
            return tasks
        }
        for task in tasks { await task.value }
    }

    /// Refreshes entries that are near or past expiry, or have no keys (at most once per
    /// `jwksMinRefreshSeconds` each), and waits for those fetches. Meant to be called every few seconds.
    public func refreshDue() async {
        let now = clock()
        let tasks: [Task<Void, Never>] = state.withLock { state in
            var tasks: [Task<Void, Never>] = []
            for key in Array(state.entries.keys) {
                guard var entry = state.entries[key], entry.inFlight == nil else { continue }
                if let last = entry.lastAttemptAt, now - last < minRefresh { continue }
                let margin = min(entry.lifetime * 0.1, 60)
                guard entry.keySet == nil || now >= entry.expiresAt - margin else { continue }
                tasks.append(startFetch(key, &entry, now: now))
                state.entries[key] = entry
            }
            return tasks
        }
        for task in tasks { await task.value }
    }

    /// Forgets an IdP's keys (it was removed or replaced). A fetch still running is discarded.
    public func remove(tenant: TenantID, idp: String) {
        state.withLock { state in
            state.entries = state.entries.filter { !($0.key.tenant == tenant && $0.key.idp == idp) }
        }
    }

    // MARK: - Registration (admin API)

    /// Why a key set could not be obtained for a new registration.
    public struct ProbeFailure: Error, Sendable, CustomStringConvertible {
        /// `discovery_url` or `jwks_uri`: the field whose document failed.
        public var field: String
        public var description: String
    }

    /// Fetches `idp`'s discovery document (when it has no `jwks_uri`) and key set now, without
    /// touching the cache, and checks that the set holds at least one key usable with one of
    /// the IdP's algorithms. The fetcher's guards apply (https, public addresses, no redirects,
    /// size and time limits).
    public func probe(_ idp: IdentityProvider) async -> Result<KeySet, ProbeFailure> {
        let field = idp.jwksURI == nil ? "discovery_url" : "jwks_uri"
        switch await fetch(idp, discoveredJWKSURI: nil) {
        case .failure(let failure):
            return .failure(ProbeFailure(field: field, description: failure.detail))
        case .success(let fetched):
            let usable = fetched.keySet.keys.contains { key in idp.algorithms.contains { key.canVerify($0) } }
            guard usable else {
                return .failure(ProbeFailure(field: field, description: "the key set holds no key usable with algorithms \(idp.algorithms.map(\.rawValue))"))
            }
            return .success(fetched.keySet)
        }
    }

    /// Starts serving `keySet` for `idp` as if just fetched (after `probe`), so its tokens are
    /// accepted without another round trip.
    public func install(tenant: TenantID, idp: IdentityProvider, keySet: KeySet) {
        let key = EntryKey(tenant: tenant, idp: idp)
        let now = clock()
        state.withLock { state in
            var entry = self.entry(key, idp, in: &state)
            entry.keySet = keySet
            entry.fetchedAt = now
            entry.lifetime = Double(settings.jwksCacheSeconds)
            entry.expiresAt = now + entry.lifetime
            entry.lastAttemptAt = now
            state.entries[key] = entry
        }
    }

    // MARK: - Fetching

    private func entry(_ key: EntryKey, _ idp: IdentityProvider, in state: inout (entries: [EntryKey: Entry], nextID: UInt64)) -> Entry {
        if var existing = state.entries[key] {
            existing.idp = idp
            return existing
        }
        state.nextID += 1
        return Entry(id: state.nextID, idp: idp)
    }

    /// Starts the one fetch of this entry. Called with the lock held; the task records its result
    /// under the same lock, so it cannot finish before `inFlight` is set.
    /// `urgent`: a token waits for it (otherwise it is a background refresh and waits its turn
    /// behind the others).
    private func startFetch(_ key: EntryKey, _ entry: inout Entry, now: Double, urgent: Bool = false) -> Task<Void, Never> {
        let id = entry.id
        let idp = entry.idp
        let discovered = entry.discovered.flatMap { now - $0.at < Double(settings.jwksCacheSeconds) ? $0.uri : nil }
        let ticket = fetchSlots.ticket()
        let slots = fetchSlots
        let task = Task {
            let result = await slots.run(ticket, urgent: urgent) { await self.fetch(idp, discoveredJWKSURI: discovered) }
            self.record(result, key: key, id: id)
        }
        entry.inFlight = task
        entry.inFlightTicket = urgent ? nil : ticket
        entry.lastAttemptAt = now
        return task
    }

    struct FetchFailure: Error {
        /// Metric label: `error` (unreachable, bad status) or `refused` (a document we will not use).
        var result: String
        var detail: String
    }

    struct FetchSuccess {
        var keySet: KeySet
        var maxAge: Int?
        var discoveredJWKSURI: String?
    }

    private func fetch(_ idp: IdentityProvider, discoveredJWKSURI: String?) async -> Result<FetchSuccess, FetchFailure> {
        do {
            var discovered: String?
            let url: String
            if let configured = idp.jwksURI {
                url = configured
            } else if let cached = discoveredJWKSURI {
                url = cached
            } else {
                let found = try await IdPDiscovery.jwksURI(for: idp, fetcher: fetcher, settings: settings)
                discovered = found
                url = found
            }
            let document = try await IdPDiscovery.get(url, fetcher: fetcher, what: "key set")
            let keySet: KeySet
            do {
                keySet = try KeySet.parse(document.body)
            } catch {
                throw FetchFailure(result: "refused", detail: error.description)
            }
            return .success(FetchSuccess(keySet: keySet, maxAge: document.cacheControlMaxAge, discoveredJWKSURI: discovered))
        } catch let failure as FetchFailure {
            return .failure(failure)
        } catch {
            return .failure(FetchFailure(result: "error", detail: "\(error)"))
        }
    }

    private func record(_ result: Result<FetchSuccess, FetchFailure>, key: EntryKey, id: UInt64) {
        let now = clock()
        let tenant = key.tenant.rawValue
        var log: Logger.Metadata = ["tenant": "\(tenant)", "idp": "\(key.idp)"]
        switch result {
        case .success(let fetched):
            let lifetime = fetched.maxAge.map { Double(min(max($0, settings.jwksMinRefreshSeconds), 86400)) }
                ?? Double(settings.jwksCacheSeconds)
            state.withLock { state in
                guard var entry = state.entries[key], entry.id == id else { return }
                entry.keySet = fetched.keySet
                entry.fetchedAt = now
                entry.lifetime = lifetime
                entry.expiresAt = now + lifetime
                if let uri = fetched.discoveredJWKSURI { entry.discovered = (uri, now) }
                entry.inFlight = nil
                entry.inFlightTicket = nil
                state.entries[key] = entry
            }
            metrics?.jwksFetches.increment([tenant, key.idp, "ok"])
            log["keys"] = "\(fetched.keySet.keys.count)"
            logger.debug("fetched key set", metadata: log)
            for (kid, refusal) in fetched.keySet.refusals {
                logger.warning("key in key set not used", metadata: log.merging(["kid": "\(kid ?? "-")", "why": "\(refusal.rawValue)"]) { $1 })
            }
        case .failure(let failure):
            let stale: Bool = state.withLock { state in
                guard var entry = state.entries[key], entry.id == id else { return false }
                entry.inFlight = nil
                entry.inFlightTicket = nil
                // The discovered location may be what broke: look it up again next time.
                entry.discovered = nil
                state.entries[key] = entry
                return entry.keySet != nil
            }
            metrics?.jwksFetches.increment([tenant, key.idp, failure.result])
            log["error"] = "\(failure.detail)"
            log["serving_cached"] = "\(stale)"
            logger.warning("key set fetch failed", metadata: log)
        }
    }
}
