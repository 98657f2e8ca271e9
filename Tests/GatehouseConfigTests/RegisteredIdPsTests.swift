import GatehouseCore
import Testing

@testable import GatehouseConfig

/// How registered IdPs join the tenants from files, and when an issuer may be shared.
@Suite struct RegisteredIdPsTests {
    func tenant(_ id: String, hosts: [String] = [], prefix: String? = nil, idps: [IdentityProvider] = []) -> Tenant {
        Tenant(
            id: TenantID(id)!, displayName: id, match: TenantMatch(hosts: hosts, pathPrefix: prefix), idps: idps,
            upstreams: [Upstream(url: "http://127.0.0.1:1")!])
    }

    func idp(_ name: String, _ issuer: String, source: IdentityProviderSource = .file) -> IdentityProvider {
        IdentityProvider(name: name, issuer: issuer, jwksURI: "https://keys.example/\(name)", allowedClients: ["c"], source: source)
    }

    @Test func registeredIdPsFollowTheFileOnesAndTheFilesWinConflicts() {
        let files = [tenant("acme", prefix: "/a", idps: [idp("dev", "https://dev")])]
        let registered = [
            TenantID("acme")!: [idp("partner", "https://partner", source: .admin), idp("DEV", "https://x", source: .admin),
                                idp("same-issuer", "https://dev", source: .admin)],
            TenantID("gone")!: [idp("p", "https://p", source: .admin)],
        ]
        let merged = RegisteredIdPs.merge(fileTenants: files, registered: registered)
        #expect(merged.tenants.count == 1)
        #expect(merged.tenants[0].idps.map(\.name) == ["dev", "partner"])
        #expect(Set(merged.skipped.map(\.name)) == ["DEV", "same-issuer", "p"])
    }

    @Test func anIssuerIsSharedOnlyBetweenTenantsRoutedByHostOrPrefix() {
        let shared = "https://shared"
        let routed = ConfigSnapshot(settings: GatehouseSettings(), tenants: [
            tenant("a", hosts: ["a.test"], idps: [idp("x", shared)]), tenant("b", prefix: "/b"), tenant("c"),
        ])
        #expect(RegisteredIdPs.crossTenantConflict(tenant: TenantID("b")!, issuer: shared, in: routed) == nil)
        #expect(RegisteredIdPs.crossTenantConflict(tenant: TenantID("c")!, issuer: shared, in: routed) != nil, "c is routed by issuer only")
        #expect(RegisteredIdPs.crossTenantConflict(tenant: TenantID("c")!, issuer: "https://unused", in: routed) == nil)
        #expect(RegisteredIdPs.crossTenantConflict(tenant: TenantID("a")!, issuer: shared, in: routed) == nil, "its own issuer")

        let issuerRouted = ConfigSnapshot(settings: GatehouseSettings(), tenants: [
            tenant("a", idps: [idp("x", shared)]), tenant("b", hosts: ["b.test"]),
        ])
        #expect(RegisteredIdPs.crossTenantConflict(tenant: TenantID("b")!, issuer: shared, in: issuerRouted) != nil,
                "b must not make a's issuer-routed tokens ambiguous")
    }
}
