import GatehouseAdmin
import GatehouseConfig
import GatehouseCore
import GatehouseIdentity
import GatehouseProxy
import GatehouseSessions
import Logging
import Synchronization

/// The configuration in force and where it comes from: the tenants the files declare, plus the
/// IdPs tenant admins registered (docs/admin-api.md "Registering an IdP"). Both change here, under one lock, and every change
/// is applied to the data plane before the call returns, so a reload and a registration can
/// never be applied out of order.
final class LiveConfiguration: AdminControl {
    private let runtime: ProxyRuntime
    private let keySets: KeySetCache
    private let tokenCache: VerifiedTokenCache
    private let metrics: GatehouseMetrics
    private let logger: Logger
    private let state: Mutex<(files: [Tenant], registered: [TenantID: [IdentityProvider]])>
    /// Tells the other replicas that a tenant's registered IdPs changed (set by `ReplicaSync`).
    private let announcer = Mutex<(@Sendable (TenantID) async -> Void)?>(nil)

    init(
        fileSnapshot: ConfigSnapshot, runtime: ProxyRuntime, keySets: KeySetCache, tokenCache: VerifiedTokenCache,
        metrics: GatehouseMetrics, logger: Logger
    ) {
        self.runtime = runtime
        self.keySets = keySets
        self.tokenCache = tokenCache
        self.metrics = metrics
        self.logger = logger
        self.state = Mutex((files: fileSnapshot.tenantIDs.compactMap { fileSnapshot.tenants[$0] }, registered: [:]))
    }

    var snapshot: ConfigSnapshot { runtime.config.snapshot }

    var settings: GatehouseSettings { snapshot.settings }

    func registeredIdPs(tenant: TenantID) -> [IdentityProvider] {
        state.withLock { $0.registered[tenant] ?? [] }
    }

    func setRegisteredIdP(_ idp: IdentityProvider, tenant: TenantID) async {
        state.withLock { state in
            var list = state.registered[tenant] ?? []
            if let i = list.firstIndex(where: { $0.name == idp.name }) { list[i] = idp } else { list.append(idp) }
            state.registered[tenant] = list
            apply(state)
        }
        await announce(tenant)
    }

    func removeRegisteredIdP(tenant: TenantID, name: String) async {
        state.withLock { state in
            state.registered[tenant]?.removeAll { $0.name == name }
            apply(state)
        }
        await announce(tenant)
    }

    func setAnnouncer(_ announce: @escaping @Sendable (TenantID) async -> Void) {
        announcer.withLock { $0 = announce }
    }

    private func announce(_ tenant: TenantID) async {
        if let announce = announcer.withLock({ $0 }) { await announce(tenant) }
    }

    /// Loads the registrations kept in the store (at start). Each is validated again with the
    /// current settings; one that no longer passes is logged and left out (it stays stored).
    func loadRegistered(from store: any AdminStore) async throws {
        let registered = try await readRegistered(from: store)
        state.withLock { state in
            state.registered = registered
            apply(state)
        }
        logger.info("registered IdPs loaded", metadata: ["count": "\(registered.values.reduce(0) { $0 + $1.count })"])
    }

    /// Re-reads the registrations another replica may have changed and puts them in force.
    /// An IdP that was removed or replaced loses its verified tokens and cached keys at once,
    /// as on the replica where the change was made.
    func syncRegistered(from store: any AdminStore) async throws {
        let registered = try await readRegistered(from: store)
        let changed: [(TenantID, String)] = state.withLock { state in
            var changed: [(TenantID, String)] = []
            for (tenant, old) in state.registered {
                let new = registered[tenant] ?? []
                for idp in old where !new.contains(idp) { changed.append((tenant, idp.name)) }
            }
            guard registered != state.registered else { return changed }
            state.registered = registered
            apply(state)
            return changed
        }
        for (tenant, name) in changed {
            tokenCache.invalidate(tenant: tenant, idp: name)
            keySets.remove(tenant: tenant, idp: name)
        }
        if !changed.isEmpty {
            logger.notice("registered IdPs changed on another replica", metadata: ["dropped": "\(changed.map { "\($0.0)/\($0.1)" })"])
        }
    }

    private func readRegistered(from store: any AdminStore) async throws -> [TenantID: [IdentityProvider]] {
        let records = try await store.registeredIdPs()
        let settings = self.settings
        var registered: [TenantID: [IdentityProvider]] = [:]
        for record in records {
            let parsed: Result<IdentityProvider, [ConfigProblem]>
            do {
                let document = try JSONParser.parse(record.document, limits: .init(maxDepth: 16, maxBytes: 64 * 1024))
                parsed = ConfigLoader.parseIdentityProvider(document, name: record.name, settings: settings, source: .admin)
            } catch {
                parsed = .failure([ConfigProblem(file: "", path: "", message: error.description)])
            }
            switch parsed {
            case .success(let idp): registered[record.tenant, default: []].append(idp)
            case .failure(let problems):
                logger.error(
                    "registered IdP no longer valid; not in force",
                    metadata: ["tenant": "\(record.tenant)", "idp": "\(record.name)", "problems": "\(problems.map(\.description))"])
            }
        }
        return registered
    }

    /// Re-reads the tenants folder. A broken file keeps the configuration in force; the problems
    /// are logged and returned.
    func reloadTenants() -> Result<Int, [ConfigProblem]> {
        let settings = self.settings
        switch ConfigLoader.loadTenants(settings: settings) {
        case .success(let tenants):
            let next = state.withLock { state in
                state.files = tenants
                return apply(state)
            }
            tokenCache.removeAll()
            metrics.configReloads.increment(["ok"])
            logger.notice("tenants reloaded", metadata: ["tenants": "\(tenants.count)"])
            let keySets = self.keySets
            Task.detached { await keySets.prime(next) }
            return .success(tenants.count)
        case .failure(let problems):
            metrics.configReloads.increment(["error"])
            for p in problems { logger.error("reload refused; keeping the previous configuration", metadata: ["problem": "\(p)"]) }
            return .failure(problems)
        }
    }

    /// Re-reads `gatehouse.yaml` (docs/configuration.md "Reloading"): the settings that can change
    /// live are put in force, the others keep their running value and the log says a restart is
    /// needed; a file that cannot be used keeps everything as it is.
    func reloadSettings(environment: [String: String]) -> Result<[String], [ConfigProblem]> {
        guard let file = settings.configFile else { return .success([]) }
        switch ConfigLoader.loadSettings(configFile: file, environment: environment) {
        case .failure(let problems):
            metrics.configReloads.increment(["error"])
            for p in problems { logger.error("gatehouse.yaml reload refused; keeping the settings in force", metadata: ["problem": "\(p)"]) }
            return .failure(problems)
        case .success(let fileSettings):
            let change = state.withLock { state -> LiveSettings.Change in
                let change = LiveSettings.merge(running: settings, file: fileSettings)
                if !change.applied.isEmpty { apply(state, settings: change.settings) }
                return change
            }
            for name in change.needsRestart {
                logger.warning("a setting changed in gatehouse.yaml needs a restart; the running value stays", metadata: ["setting": "\(name)"])
            }
            guard !change.applied.isEmpty else { return .success([]) }
            let next = change.settings
            runtime.authenticator.update(settings: next.identity)
            keySets.update(settings: next.identity)
            runtime.signer?.update(ttlSeconds: next.assertion.ttlSeconds)
            if let level = Logger.Level(rawValue: next.logLevel.rawValue) { JSONLogHandler.setLevel(level) }
            metrics.configReloads.increment(["ok"])
            logger.notice("settings reloaded", metadata: ["changed": "\(change.applied.joined(separator: ","))"])
            return .success(change.applied)
        }
    }

    /// Merges files and registrations into a snapshot and puts it in force. Called with the lock held.
    @discardableResult
    private func apply(
        _ state: (files: [Tenant], registered: [TenantID: [IdentityProvider]]), settings newSettings: GatehouseSettings? = nil
    ) -> ConfigSnapshot {
        let merged = RegisteredIdPs.merge(fileTenants: state.files, registered: state.registered)
        for skipped in merged.skipped {
            logger.warning(
                "registered IdP not in force", metadata: ["tenant": "\(skipped.tenant)", "idp": "\(skipped.name)", "reason": "\(skipped.reason)"])
        }
        let next = ConfigSnapshot(settings: newSettings ?? settings, tenants: merged.tenants)
        runtime.apply(next)
        return next
    }
}
