import GatehouseCore

/// The IdPs a token with a given `iss` may be verified against.
enum IdPCandidates {
    struct Candidate: Sendable, Equatable {
        var tenant: TenantID
        var idp: IdentityProvider
    }

    /// With a tenant: that tenant's IdPs with this issuer, in declaration order. Without: every
    /// tenant's IdPs with this issuer.
    static func find(issuer: String, tenant: TenantID?, in snapshot: ConfigSnapshot) -> [Candidate] {
        if let tenant {
            guard let idps = snapshot.tenants[tenant]?.idps else { return [] }
            return idps.filter { $0.issuer == issuer }.map { Candidate(tenant: tenant, idp: $0) }
        }
        var out: [Candidate] = []
        for pair in snapshot.idpsByIssuer[issuer] ?? [] {
            guard let idp = snapshot.tenants[pair.tenant]?.idps.first(where: { $0.name == pair.idp }) else { continue }
            out.append(Candidate(tenant: pair.tenant, idp: idp))
        }
        return out
    }
}
