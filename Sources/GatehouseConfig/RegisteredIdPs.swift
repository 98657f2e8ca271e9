import GatehouseCore

/// How IdPs registered through the admin API join the tenants read from files.
public enum RegisteredIdPs {
    /// At most this many registered IdPs per tenant.
    public static let maxPerTenant = 20

    /// A registered IdP that is not in force, and why (logged; the registration stays stored).
    public struct Skipped: Sendable, Hashable {
        public var tenant: TenantID
        public var name: String
        public var reason: String
    }

    /// The tenants with their registered IdPs appended after the file-declared ones. Tenant
    /// files win: a registered IdP whose tenant no longer exists, or whose name or issuer a
    /// tenant file now also declares, is skipped rather than allowed to shadow the file.
    public static func merge(
        fileTenants: [Tenant], registered: [TenantID: [IdentityProvider]]
    ) -> (tenants: [Tenant], skipped: [Skipped]) {
        var skipped: [Skipped] = []
        var known: Set<TenantID> = []
        var tenants: [Tenant] = []
        for var tenant in fileTenants {
            known.insert(tenant.id)
            for idp in registered[tenant.id] ?? [] {
                if let reason = conflict(idp, with: tenant.idps) {
                    skipped.append(Skipped(tenant: tenant.id, name: idp.name, reason: reason))
                } else {
                    tenant.idps.append(idp)
                }
            }
            tenants.append(tenant)
        }
        for (tenant, idps) in registered where !known.contains(tenant) {
            for idp in idps { skipped.append(Skipped(tenant: tenant, name: idp.name, reason: "no tenant \(tenant) is configured")) }
        }
        return (tenants, skipped)
    }

    /// Why `idp` cannot join a tenant that already has `existing`: the same name (letter case
    /// ignored, as in tenant files) or the same issuer.
    public static func conflict(_ idp: IdentityProvider, with existing: [IdentityProvider]) -> String? {
        if let same = existing.first(where: { $0.name.lowercased() == idp.name.lowercased() }) {
            return "the tenant already has an IdP named \(FieldPath.quoted(same.name))"
        }
        if let same = existing.first(where: { $0.issuer == idp.issuer }) {
            return "IdP \(FieldPath.quoted(same.name)) of the tenant already trusts this issuer"
        }
        return nil
    }

    /// Why `tenant` may not trust `issuer` through the admin API because of other tenants, if
    /// so. A request that matches no tenant by Host or path prefix is routed by its token's
    /// issuer, and a token two tenants would accept is refused. So a tenant admin must not be
    /// able to make another tenant's issuer-routed tokens ambiguous: when another tenant trusts
    /// the issuer, both must be reachable by Host or path prefix.
    public static func crossTenantConflict(tenant: TenantID, issuer: String, in snapshot: ConfigSnapshot) -> String? {
        let others = (snapshot.idpsByIssuer[issuer] ?? []).map(\.tenant).filter { $0 != tenant }
        guard !others.isEmpty else { return nil }
        func routable(_ id: TenantID) -> Bool {
            guard let t = snapshot.tenants[id] else { return false }
            return !t.match.hosts.isEmpty || t.match.pathPrefix != nil
        }
        if routable(tenant), others.allSatisfy(routable) { return nil }
        return "another tenant trusts this issuer, and tokens routed by issuer would become ambiguous"
    }
}
