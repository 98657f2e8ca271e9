/// The whole validated configuration the data plane reads: settings plus every tenant,
/// with lookup tables built once. A reload builds a new snapshot and swaps it in whole.
public struct ConfigSnapshot: Sendable {
    public let settings: GatehouseSettings
    public let tenants: [TenantID: Tenant]
    /// Sorted by id, for stable listings.
    public let tenantIDs: [TenantID]
    /// Lower-cased host -> tenant.
    public let tenantByHost: [String: TenantID]
    /// Path prefix -> tenant. Looked up per path segment boundary, so resolving a path costs
    /// one lookup per segment, not one comparison per tenant.
    public let tenantByPrefix: [Substring: TenantID]
    /// Issuer -> (tenant, IdP name) pairs that trust it.
    public let idpsByIssuer: [String: [(tenant: TenantID, idp: String)]]

    public init(settings: GatehouseSettings, tenants: [Tenant]) {
        self.settings = settings
        var byID: [TenantID: Tenant] = [:]
        var byHost: [String: TenantID] = [:]
        var byPrefix: [Substring: TenantID] = [:]
        var byIssuer: [String: [(TenantID, String)]] = [:]
        for tenant in tenants {
            byID[tenant.id] = tenant
            for host in tenant.match.hosts { byHost[host] = tenant.id }
            if let p = tenant.match.pathPrefix { byPrefix[Substring(p)] = tenant.id }
            for idp in tenant.idps { byIssuer[idp.issuer, default: []].append((tenant.id, idp.name)) }
        }
        self.tenants = byID
        self.tenantIDs = byID.keys.sorted()
        self.tenantByHost = byHost
        self.tenantByPrefix = byPrefix
        self.idpsByIssuer = byIssuer.mapValues { $0.map { (tenant: $0.0, idp: $0.1) } }
    }

    /// The tenant whose `path_prefix` matches `path` on a segment boundary (the prefix is the
    /// whole path, or is followed by `/` or `?`), longest first.
    public func tenant(forPath path: Substring) -> (tenant: TenantID, prefix: String)? {
        guard !tenantByPrefix.isEmpty else { return nil }
        // Prefixes never contain `?`: candidates end before the query, then at each `/`.
        var end = path.firstIndex(of: "?") ?? path.endIndex
        while end > path.startIndex {
            let candidate = path[path.startIndex..<end]
            if let tenant = tenantByPrefix[candidate] { return (tenant, String(candidate)) }
            guard let slash = candidate.lastIndex(of: "/") else { return nil }
            end = slash
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
