import GatehouseCore
import GatehouseIdentity

/// An `Authenticator` over an in-memory JWKS with primed keys, and tokens for every benchmarked
/// algorithm, for tenant `t0` of a snapshot of `tenantCount` tenants.
struct IdentityFixture: Sendable {
    static let algorithms: [JWSAlgorithm] = [.RS256, .ES256, .EdDSA]

    let snapshot: ConfigSnapshot
    let authenticator: Authenticator
    let tenant: TenantID
    let tokens: [JWSAlgorithm: String]

    /// `cacheEntries` 0 turns the verified-token cache off (every call verifies a signature).
    static func make(
        cacheEntries: Int, tenantCount: Int = 1, propagate: [PropagationRule] = Tenant.defaultPropagation, largeToken: Bool = false
    ) async throws -> IdentityFixture {
        let keys = try SigningKeys()
        var settings = GatehouseSettings()
        settings.identity.tokenCacheEntries = cacheEntries
        let snapshot = Fixtures.snapshot(tenants: tenantCount, propagate: propagate, settings: settings)
        let keySets = KeySetCache(
            settings: settings.identity, fetcher: InMemoryDocumentFetcher(jwks: try keys.jwks()), clock: SystemWallClock.now,
            metrics: nil, logger: Fixtures.logger)
        await keySets.prime(snapshot)
        let authenticator = Authenticator(
            settings: settings.identity, keySets: keySets, cache: VerifiedTokenCache(capacity: cacheEntries, metrics: GatehouseMetrics()),
            clock: SystemWallClock.now, metrics: nil, logger: Fixtures.logger)
        let now = SystemWallClock.now()
        let claims = largeToken ? Fixtures.largeClaims(tenant: 0, now: now) : .object(Fixtures.claims(tenant: 0, now: now))
        var tokens: [JWSAlgorithm: String] = [:]
        for algorithm in algorithms { tokens[algorithm] = try keys.token(algorithm, claims: claims) }
        let fixture = IdentityFixture(snapshot: snapshot, authenticator: authenticator, tenant: Fixtures.tenantID(0), tokens: tokens)
        // Fail the setup, not the measurement, when a token does not verify.
        for algorithm in algorithms { _ = try await fixture.verify(algorithm) }
        return fixture
    }

    func token(_ algorithm: JWSAlgorithm) -> String { tokens[algorithm]! }

    /// Full verification through the authenticator (a cache hit is not looked for).
    func verify(_ algorithm: JWSAlgorithm) async throws -> Principal {
        try await authenticator.authenticate(token: token(algorithm), tenant: tenant, snapshot: snapshot).get()
    }
}
