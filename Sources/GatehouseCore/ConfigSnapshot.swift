/// The whole validated configuration the data plane reads: settings plus every tenant,
/// with lookup tables built once. A reload builds a new snapshot and swaps it in whole.
public struct ConfigSnapshot: Sendable {
    public let settings: GatehouseSettings
    public let tenants: [TenantID: Tenant]
    /// Sorted by id, for stable listings.
    public let tenantIDs: [TenantID]
    /// Lower-cased host -> tenant.
    public let tenantByHost: [String: TenantID]
    /// Path prefixes, longest first.
    public let prefixes: [(prefix: String, tenant: TenantID)]
    /// Issuer -> (tenant, IdP name) pairs that trust it.
    public let idpsByIssuer: [String: [(tenant: TenantID, idp: String)]]

    public init(settings: GatehouseSettings, tenants: [Tenant]) {
        self.settings = settings
        var byID: [TenantID: Tenant] = [:]
        var byHost: [String: TenantID] = [:]
        var prefixes: [(String, TenantID)] = []
        var byIssuer: [String: [(TenantID, String)]] = [:]
        for tenant in tenants {
            byID[tenant.id] = tenant
            for host in tenant.match.hosts { byHost[host] = tenant.id }
            if let p = tenant.match.pathPrefix { prefixes.append((p, tenant.id)) }
            for idp in tenant.idps { byIssuer[idp.issuer, default: []].append((tenant.id, idp.name)) }
        }
        self.tenants = byID
        self.tenantIDs = byID.keys.sorted()
        self.tenantByHost = byHost
        self.prefixes = prefixes.sorted { $0.0.utf8.count > $1.0.utf8.count }.map { (prefix: $0.0, tenant: $0.1) }
        self.idpsByIssuer = byIssuer.mapValues { $0.map { (tenant: $0.0, idp: $0.1) } }
    }

    /// The tenant whose `path_prefix` matches `path` (on a segment boundary), longest first.
    public func tenant(forPath path: Substring) -> (tenant: TenantID, prefix: String)? {
        for entry in prefixes {
            guard path.hasPrefix(entry.prefix) else { continue }
            let rest = path.dropFirst(entry.prefix.count)
            if rest.isEmpty || rest.first == "/" || rest.first == "?" { return (entry.tenant, entry.prefix) }
        }
        return nil
    }

    /// Returns a copy with these tenants' IdP lists replaced (used when admin-registered IdPs change).
    public func replacingTenants(_ updated: [Tenant]) -> ConfigSnapshot {
        var all = tenants
        for t in updated { all[t.id] = t }
        return ConfigSnapshot(settings: settings, tenants: Array(all.values))
    }
}
