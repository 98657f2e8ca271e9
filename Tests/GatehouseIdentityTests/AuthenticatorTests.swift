import GatehouseCore
import Testing

@testable import GatehouseIdentity

/// Several tenants, each with IdPs, over stub IdPs; an Authenticator with a token cache.
struct AuthWorld {
    let clock = TestClock()
    let fetcher = StubFetcher()
    let metrics = GatehouseMetrics()
    let settings: IdentitySettings
    let keySets: KeySetCache
    let cache: VerifiedTokenCache
    let authenticator: Authenticator

    static let issuerB = "https://login.globex.example"
    static let jwksB = "https://login.globex.example/keys"

    init(settings: IdentitySettings = IdentitySettings()) {
        self.settings = settings
        fetcher.serveKeys(Std.jwksURL, TestKeys.standardJWKs)
        fetcher.serveKeys(Self.jwksB, [TestKeys.jwk(TestKeys.p256, kid: "b1")])
        keySets = KeySetCache(settings: settings, fetcher: fetcher, clock: clock.now, metrics: metrics, logger: Std.logger)
        cache = VerifiedTokenCache(capacity: settings.tokenCacheEntries, metrics: metrics)
        authenticator = Authenticator(settings: settings, keySets: keySets, cache: cache, clock: clock.now, metrics: metrics, logger: Std.logger)
    }

    var now: Double { clock.seconds }

    /// acme trusts the standard issuer; globex trusts issuer B.
    var twoTenants: ConfigSnapshot {
        Std.snapshot([
            Std.tenant("acme", idps: [Std.idp()]),
            Std.tenant("globex", idps: [Std.idp(name: "corp", issuer: Self.issuerB, jwksURI: Self.jwksB)]),
        ])
    }

    func token(_ claims: [String: JSONValue?] = [:]) -> String {
        TestToken.make(header: ["alg": "RS256", "kid": "rsa1"], payload: Std.claims(now, claims), signer: .rsa(TestKeys.rsa, pss: false, hash: 256))
    }

    func tokenB(_ claims: [String: JSONValue?] = [:]) -> String {
        var c = claims
        c["iss"] = .string(Self.issuerB)
        return TestToken.make(header: ["alg": "ES256", "kid": "b1"], payload: Std.claims(now, c), signer: .p256(TestKeys.p256))
    }

    func authenticate(_ token: String, tenant: String?, _ snapshot: ConfigSnapshot) async -> Result<Principal, AuthError> {
        await authenticator.authenticate(token: token, tenant: tenant.flatMap(TenantID.init), snapshot: snapshot)
    }

    func cached(_ token: String, tenant: String?, _ snapshot: ConfigSnapshot) -> Principal? {
        authenticator.cachedPrincipal(token: token, tenant: tenant.flatMap(TenantID.init), snapshot: snapshot)
    }
}

extension Result {
    var value: Success? { try? get() }
    var error: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}

@Suite("Authenticator")
struct AuthenticatorTests {
    @Test("without a tenant, the token's issuer picks it")
    func issuerSelectsTenant() async {
        let world = AuthWorld()
        let a = await world.authenticate(world.token(), tenant: nil, world.twoTenants)
        #expect(a.value?.tenant.rawValue == "acme")
        let b = await world.authenticate(world.tokenB(), tenant: nil, world.twoTenants)
        #expect(b.value?.tenant.rawValue == "globex")
        #expect(b.value?.idp == "corp")
    }

    @Test("two tenants that would both accept the token: refused, never guessed")
    func ambiguous() async {
        let world = AuthWorld()
        let snapshot = Std.snapshot([Std.tenant("acme", idps: [Std.idp()]), Std.tenant("umbrella", idps: [Std.idp(name: "shared")])])
        let result = await world.authenticate(world.token(), tenant: nil, snapshot)
        #expect(result.error?.reason == "ambiguous_tenant")
        #expect(result.error?.kind == .invalidToken)
        // Claims rules that tell the tenants apart resolve it.
        let rule = { (t: String) in [ClaimRule(claim: try! ClaimPath("custom:tenant_id"), kind: .equals(.string(t)))] }
        let distinct = Std.snapshot([
            Std.tenant("acme", idps: [Std.idp(claims: rule("acme"))]),
            Std.tenant("umbrella", idps: [Std.idp(name: "shared", claims: rule("umbrella"))]),
        ])
        let resolved = await world.authenticate(world.token(["custom:tenant_id": "umbrella"]), tenant: nil, distinct)
        #expect(resolved.value?.tenant.rawValue == "umbrella")
        // With the tenant named by the request, another tenant's IdP does not matter.
        #expect(await world.authenticate(world.token(), tenant: "acme", snapshot).value?.tenant.rawValue == "acme")
    }

    @Test("choosing by issuer, a tenant whose keys are unavailable cannot be ruled out")
    func undecidedTenant() async {
        let world = AuthWorld()
        let brokenURL = "https://broken.example/jwks"
        world.fetcher.fail(brokenURL)
        let snapshot = Std.snapshot([
            Std.tenant("acme", idps: [Std.idp()]), Std.tenant("umbrella", idps: [Std.idp(name: "x", jwksURI: brokenURL)]),
        ])
        let result = await world.authenticate(world.token(), tenant: nil, snapshot)
        #expect(result.error?.kind == .keysUnavailable)
        #expect(await world.authenticate(world.token(), tenant: "acme", snapshot).value?.tenant.rawValue == "acme")
    }

    @Test("an issuer no IdP trusts is unknown_issuer")
    func unknownIssuer() async {
        let world = AuthWorld()
        #expect(await world.authenticate(world.token(["iss": "https://nobody.example"]), tenant: nil, world.twoTenants).error?.reason == "unknown_issuer")
        #expect(await world.authenticate(world.token(["iss": nil]), tenant: nil, world.twoTenants).error?.reason == "unknown_issuer")
        // A tenant only trusts its own IdPs' issuers.
        #expect(await world.authenticate(world.tokenB(), tenant: "acme", world.twoTenants).error?.reason == "unknown_issuer")
        #expect(await world.authenticate(world.token(), tenant: "nosuch", world.twoTenants).error?.reason == "unknown_issuer")
        #expect(await world.authenticate("garbage", tenant: nil, world.twoTenants).error?.reason == "malformed")
        #expect(world.fetcher.totalCalls == 0)
    }

    @Test("IdPs sharing an issuer with different audiences: the first that accepts wins")
    func sharedIssuer() async {
        let world = AuthWorld()
        let snapshot = Std.snapshot([Std.tenant("acme", idps: [Std.idp(name: "web", audiences: ["web"]), Std.idp(name: "api", audiences: ["api"])])])
        #expect(await world.authenticate(world.token(), tenant: "acme", snapshot).value?.idp == "api")
        #expect(await world.authenticate(world.token(["aud": "web"]), tenant: "acme", snapshot).value?.idp == "web")
        #expect(await world.authenticate(world.token(["aud": "web"]), tenant: nil, snapshot).value?.idp == "web")
        // None accepts: the audience failure is reported (not, say, an earlier stage).
        #expect(await world.authenticate(world.token(["aud": "other"]), tenant: "acme", snapshot).error?.reason == "audience")
    }

    @Test("with several candidates failing, the most specific error is reported")
    func mostSpecificError() async {
        let world = AuthWorld()
        let snapshot = Std.snapshot([
            Std.tenant("acme", idps: [Std.idp(scopes: ["admin"])]),
            Std.tenant("umbrella", idps: [Std.idp(name: "other", audiences: ["elsewhere"])]),
        ])
        let result = await world.authenticate(world.token(), tenant: nil, snapshot)
        #expect(result.error?.kind == .insufficientScope(required: ["admin"]))
    }
}

@Suite("Verified-token cache")
struct VerifiedTokenCacheTests {
    @Test("a verified token is a hit until exp (with skew)")
    func hitUntilExpiry() async throws {
        let world = AuthWorld()
        let token = world.token()
        #expect(world.cached(token, tenant: "acme", world.twoTenants) == nil)
        let principal = try await world.authenticate(token, tenant: "acme", world.twoTenants).get()
        #expect(world.cached(token, tenant: "acme", world.twoTenants) == principal)
        #expect(world.metrics.tokenCache.value(["hit"]) == 1)
        #expect(world.metrics.tokenCache.value(["miss"]) == 1)

        world.clock.advance(300 + Double(world.settings.clockSkewSeconds) - 1)
        #expect(world.cached(token, tenant: "acme", world.twoTenants) != nil)
        world.clock.advance(2)
        #expect(world.cached(token, tenant: "acme", world.twoTenants) == nil)
        #expect(world.cache.count == 0, "expired entries are dropped on sight")
    }

    @Test("the cache key includes the tenant the request named")
    func keyedByTenant() async throws {
        let world = AuthWorld()
        let token = world.token()
        _ = try await world.authenticate(token, tenant: nil, world.twoTenants).get()
        #expect(world.cached(token, tenant: nil, world.twoTenants)?.tenant.rawValue == "acme")
        #expect(world.cached(token, tenant: "acme", world.twoTenants) == nil)
        #expect(world.cached(token, tenant: "globex", world.twoTenants) == nil)
        #expect(world.cached(world.token(["sub": "someone-else"]), tenant: nil, world.twoTenants) == nil)
    }

    @Test("a hit misses once its IdP is removed or changed in the snapshot")
    func idpRevocation() async throws {
        let world = AuthWorld()
        let token = world.token()
        _ = try await world.authenticate(token, tenant: "acme", world.twoTenants).get()
        _ = try await world.authenticate(token, tenant: nil, world.twoTenants).get()

        let removed = Std.snapshot([Std.tenant("acme", idps: []), Std.tenant("globex", idps: [])])
        #expect(world.cached(token, tenant: "acme", removed) == nil)

        _ = try await world.authenticate(token, tenant: "acme", world.twoTenants).get()
        let changed = Std.snapshot([Std.tenant("acme", idps: [Std.idp(audiences: ["api", "more"])])])
        #expect(world.cached(token, tenant: "acme", changed) == nil)
        #expect(world.cached(token, tenant: nil, changed) == nil)

        // A second tenant trusting the same issuer would make the issuer-chosen tenant ambiguous.
        _ = try await world.authenticate(token, tenant: nil, world.twoTenants).get()
        let contested = Std.snapshot([Std.tenant("acme", idps: [Std.idp()]), Std.tenant("umbrella", idps: [Std.idp(name: "x")])])
        #expect(world.cached(token, tenant: nil, contested) == nil)
        #expect(await world.authenticate(token, tenant: nil, contested).error?.reason == "ambiguous_tenant")
    }

    @Test("invalidate and removeAll drop entries")
    func invalidate() async throws {
        let world = AuthWorld()
        let token = world.token()
        _ = try await world.authenticate(token, tenant: "acme", world.twoTenants).get()
        let tokenB = world.tokenB()
        _ = try await world.authenticate(tokenB, tenant: "globex", world.twoTenants).get()
        world.cache.invalidate(tenant: TenantID("acme")!, idp: "main")
        #expect(world.cached(token, tenant: "acme", world.twoTenants) == nil)
        #expect(world.cached(tokenB, tenant: "globex", world.twoTenants) != nil)
        world.cache.removeAll()
        #expect(world.cached(tokenB, tenant: "globex", world.twoTenants) == nil)
    }

    @Test("the cache is bounded; 0 turns it off")
    func bounded() async throws {
        let principal = Principal(tenant: Std.tenant, idp: "main", issuer: Std.issuer, subject: "s", clientID: nil, scopes: [], claims: [:], expiresAt: 2_000_000_000)
        let candidates = [IdPCandidates.Candidate(tenant: Std.tenant, idp: Std.idp())]
        let snapshot = Std.snapshot([Std.tenant("acme", idps: [Std.idp()])])
        for capacity in [10, 5000] {
            let cache = VerifiedTokenCache(capacity: capacity, metrics: nil)
            for i in 0..<(capacity * 3) { cache.insert(token: "token-\(i)", tenant: Std.tenant, principal: principal, candidates: candidates) }
            #expect(cache.count <= capacity)
            #expect(cache.count >= capacity / 2)
            let last = "token-\(capacity * 3 - 1)"
            #expect(cache.lookup(token: last, tenant: Std.tenant, snapshot: snapshot, now: 1_700_000_000, skew: 60) != nil)
            #expect(cache.lookup(token: "token-0", tenant: Std.tenant, snapshot: snapshot, now: 1_700_000_000, skew: 60) == nil)
        }
        let off = VerifiedTokenCache(capacity: 0, metrics: nil)
        off.insert(token: "t", tenant: Std.tenant, principal: principal, candidates: candidates)
        #expect(off.count == 0)
        #expect(off.lookup(token: "t", tenant: Std.tenant, snapshot: snapshot, now: 1_700_000_000, skew: 60) == nil)

        var settings = IdentitySettings()
        settings.tokenCacheEntries = 0
        let world = AuthWorld(settings: settings)
        _ = try await world.authenticate(world.token(), tenant: "acme", world.twoTenants).get()
        #expect(world.cached(world.token(), tenant: "acme", world.twoTenants) == nil)
    }

    @Test("refusals are not cached")
    func refusalsNotCached() async {
        let world = AuthWorld()
        let token = world.token(["aud": "other"])
        _ = await world.authenticate(token, tenant: "acme", world.twoTenants)
        #expect(world.cache.count == 0)
    }

    @Test("without waiting: nil until the IdP's keys are cached, then the verdict the waiting path gives")
    func verifiesNowOnceKeysAreCached() async {
        let world = AuthWorld()
        let snapshot = world.twoTenants
        let acme = TenantID("acme")!
        let good = world.token()
        // Nothing fetched yet: this path must not wait, and does not fetch.
        #expect(world.authenticator.authenticateNow(token: good, tenant: acme, snapshot: snapshot) == nil)
        #expect(world.fetcher.totalCalls == 0)
        #expect(await world.authenticate(good, tenant: "acme", snapshot).value?.subject == "user-1")
        let fetches = world.fetcher.totalCalls

        // Keys cached: every token gets the same verdict on both paths, with no further fetch.
        let forged = TestToken.make(
            header: ["alg": "RS256", "kid": "rsa1"], payload: Std.claims(world.now), signer: .rsa(TestKeys.rsa2, pss: false, hash: 256))
        let cases: [(String, String?)] = [
            (world.token(["sub": "bob"]), "acme"), (world.token(["aud": "other"]), "acme"), (world.token(["exp": 1]), "acme"),
            (forged, "acme"), ("garbage", "acme"), (world.token(), nil), (world.tokenB(), "acme"),
        ]
        for (token, tenant) in cases {
            let now = world.authenticator.authenticateNow(token: token, tenant: tenant.flatMap(TenantID.init), snapshot: snapshot)
            let later = await world.authenticate(token, tenant: tenant, snapshot)
            #expect(now != nil, "token for \(tenant ?? "-") took the waiting path although its keys are cached")
            #expect(now?.value?.subject == later.value?.subject)
            #expect(now?.error?.reason == later.error?.reason)
        }
        #expect(world.authenticator.authenticateNow(token: world.token(["sub": "carol"]), tenant: acme, snapshot: snapshot)?.value?.subject == "carol")
        // Tenant chosen by issuer: globex's keys are not cached yet, so this waits too.
        #expect(world.authenticator.authenticateNow(token: world.tokenB(), tenant: nil, snapshot: snapshot) == nil)
        #expect(world.fetcher.totalCalls == fetches)
    }

    @Test("without waiting: a token verified before is a hit in the shared cache, with no second signature check")
    func verifiesNowFromTheSharedCache() async {
        let world = AuthWorld()
        let snapshot = world.twoTenants
        let acme = TenantID("acme")!
        let good = world.token()
        _ = await world.authenticate(good, tenant: "acme", snapshot)
        #expect(world.cache.count == 1)
        // The keys are gone from the key-set cache's view: only the shared cache can answer now.
        world.keySets.remove(tenant: acme, idp: Std.idp().name)
        let hit = world.authenticator.authenticateNow(token: good, tenant: acme, snapshot: snapshot)
        #expect(hit?.value?.subject == "user-1")
        #expect(world.metrics.tokenCache.value(["hit"]) == 1)
        // Another scope is another key: a miss, and (keys gone) the waiting path.
        #expect(world.authenticator.authenticateNow(token: good, tenant: nil, snapshot: snapshot) == nil)
        #expect(world.cache.count == 1)
    }

    @Test("without waiting: a kid the cached set lacks takes the waiting path (a refresh may find it)")
    func unknownKIDWaits() async {
        let world = AuthWorld()
        let snapshot = world.twoTenants
        _ = await world.authenticate(world.token(), tenant: "acme", snapshot)
        let rotated = TestToken.make(
            header: ["alg": "RS256", "kid": "rsa-new"], payload: Std.claims(world.now), signer: .rsa(TestKeys.rsa2, pss: false, hash: 256))
        #expect(world.authenticator.authenticateNow(token: rotated, tenant: TenantID("acme")!, snapshot: snapshot) == nil)
        // The waiting path refreshes the set and finds the new key.
        world.fetcher.serveKeys(Std.jwksURL, TestKeys.standardJWKs + [TestKeys.jwk(TestKeys.rsa2, kid: "rsa-new")])
        world.clock.advance(3600)
        let fresh = TestToken.make(
            header: ["alg": "RS256", "kid": "rsa-new"], payload: Std.claims(world.now), signer: .rsa(TestKeys.rsa2, pss: false, hash: 256))
        #expect(await world.authenticate(fresh, tenant: "acme", snapshot).value != nil)
        #expect(world.authenticator.authenticateNow(token: fresh, tenant: TenantID("acme")!, snapshot: snapshot)?.value != nil)
    }
}
