/// The whole validated configuration the data plane reads: settings plus every tenant,
/// with lookup tables built once. A reload builds a new snapshot and swaps it in whole.
public struct ConfigSnapshot: Sendable {
    public let settings: GatehouseSettings
    public let tenants: [TenantID: Tenant]
    /// Sorted by id, for stable listings.
    public let tenantIDs: [TenantID]
    /// Lower-cased host -> tenant.
    public let tenantByHost: [String: TenantID]
    /// Issuer -> (tenant, IdP name) pairs that trust it.
    public let idpsByIssuer: [String: [(tenant: TenantID, idp: String)]]
    /// Path prefixes by an FNV-1a hash of their bytes. Looked up per path segment boundary, so
    /// resolving a path costs one lookup per segment, not one comparison per tenant (and hashing
    /// a few bytes costs a fraction of hashing a `Substring`).
    private let prefixesByHash: [UInt64: [(prefix: String, tenant: TenantID)]]

    public init(settings: GatehouseSettings, tenants: [Tenant]) {
        self.settings = settings
        var byID: [TenantID: Tenant] = [:]
        var byHost: [String: TenantID] = [:]
        var byIssuer: [String: [(TenantID, String)]] = [:]
        var byHash: [UInt64: [(prefix: String, tenant: TenantID)]] = [:]
        for tenant in tenants {
            byID[tenant.id] = tenant
            for host in tenant.match.hosts { byHost[host] = tenant.id }
            if let p = tenant.match.pathPrefix {
                byHash[Self.prefixHash(p.utf8), default: []].append((p, tenant.id))
            }
            for idp in tenant.idps { byIssuer[idp.issuer, default: []].append((tenant.id, idp.name)) }
        }
        self.tenants = byID
        self.tenantIDs = byID.keys.sorted()
        self.tenantByHost = byHost
        self.idpsByIssuer = byIssuer.mapValues { $0.map { (tenant: $0.0, idp: $0.1) } }
        self.prefixesByHash = byHash
    }

    /// FNV-1a over the bytes.
    private static func prefixHash<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    /// The tenant whose `path_prefix` matches `path` on a segment boundary (the prefix is the
    /// whole path, or is followed by `/` or `?`), longest first.
    public func tenant(forPath path: Substring) -> (tenant: TenantID, prefix: String)? {
        guard !prefixesByHash.isEmpty else { return nil }
        // Prefixes never contain `?`: candidates end before the query, then at each `/`
        // (searched as bytes: both are ASCII, so the indices are character boundaries).
        var end = path.utf8.firstIndex(of: UInt8(ascii: "?")) ?? path.endIndex
        while end > path.startIndex {
            let candidate = path[path.startIndex..<end]
            if let entries = prefixesByHash[Self.prefixHash(candidate.utf8)] {
                for entry in entries where entry.prefix.utf8.elementsEqual(candidate.utf8) { return (entry.tenant, entry.prefix) }
            }
            guard let slash = candidate.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
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
