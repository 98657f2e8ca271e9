import GatehouseCore
import Testing

@testable import GatehouseIdentity

/// A key-set cache over a stub IdP with a hand-driven clock.
struct CacheWorld {
    let clock = TestClock()
    let fetcher = StubFetcher()
    let metrics = GatehouseMetrics()
    let settings: IdentitySettings
    let cache: KeySetCache
    let idp: IdentityProvider

    init(idp: IdentityProvider = Std.idp(), settings: IdentitySettings = IdentitySettings(), keys: [JSONValue] = TestKeys.standardJWKs, maxAge: Int? = nil) {
        self.idp = idp
        self.settings = settings
        fetcher.serveKeys(Std.jwksURL, keys, maxAge: maxAge)
        cache = KeySetCache(settings: settings, fetcher: fetcher, clock: clock.now, metrics: metrics, logger: Std.logger)
    }

    var snapshot: ConfigSnapshot { Std.snapshot([Std.tenant("acme", idps: [idp])]) }
    var fetches: Int { fetcher.calls(Std.jwksURL) }

    func keys() async throws(AuthError) -> KeySet { try await cache.keySet(tenant: Std.tenant, idp: idp) }

    func kids() async throws -> [String] { try await keys().keys.compactMap(\.kid) }

    func fetchMetric(_ result: String) -> Double { metrics.jwksFetches.value(["acme", idp.name, result]) }
}

@Suite("Key-set cache")
struct KeySetCacheTests {
    @Test("keys are cached until they expire; no refetch before")
    func cached() async throws {
        let world = CacheWorld()
        await world.cache.prime(world.snapshot)
        #expect(world.fetches == 1)
        #expect(world.fetchMetric("ok") == 1)
        for _ in 0..<10 { _ = try await world.keys() }
        world.clock.advance(500)
        await world.cache.refreshDue()
        _ = try await world.keys()
        #expect(world.fetches == 1)
    }

    @Test("refreshDue fetches entries near or past expiry, and serves the new keys")
    func backgroundRefresh() async throws {
        let world = CacheWorld()
        await world.cache.prime(world.snapshot)
        world.fetcher.serveKeys(Std.jwksURL, [TestKeys.jwk(TestKeys.rsa2, kid: "new")])
        world.clock.advance(Double(world.settings.jwksCacheSeconds) + 1)
        // Past expiry but not refreshed yet: the old keys still serve (no fetch on the request path).
        #expect(try await world.kids().contains("rsa1"))
        #expect(world.fetches == 1)
        await world.cache.refreshDue()
        #expect(world.fetches == 2)
        #expect(try await world.kids() == ["new"])
        await world.cache.refreshDue()
        #expect(world.fetches == 2, "fresh again")
    }

    @Test("Cache-Control max-age replaces the default lifetime within bounds", arguments: [
        (maxAge: 120, quietAt: 100.0, dueAt: 121.0),
        (maxAge: 5, quietAt: 20.0, dueAt: 31.0),  // clamped up to jwks_min_refresh_seconds (30)
        (maxAge: 10_000_000, quietAt: 80_000.0, dueAt: 86_401.0),  // clamped down to a day
        (maxAge: 3000, quietAt: 2000.0, dueAt: 3001.0),  // longer than the 600 s default
    ])
    func maxAge(maxAge: Int, quietAt: Double, dueAt: Double) async {
        let world = CacheWorld(maxAge: maxAge)
        await world.cache.prime(world.snapshot)
        world.clock.advance(quietAt)
        await world.cache.refreshDue()
        #expect(world.fetches == 1)
        world.clock.advance(dueAt - quietAt)
        await world.cache.refreshDue()
        #expect(world.fetches == 2)
    }

    @Test("1000 concurrent unknown kids cost one fetch per interval (single flight)")
    func flood() async throws {
        let world = VerifierWorld()
        _ = try await world.keySets.keySet(tenant: Std.tenant, idp: Std.idp())
        #expect(world.fetcher.calls(Std.jwksURL) == 1)
        world.clock.advance(Double(world.settings.jwksMinRefreshSeconds))

        world.fetcher.hold()
        let reasons = await withTaskGroup(of: String?.self) { group in
            for i in 0..<1000 {
                let token = TestToken.make(
                    header: ["alg": "RS256", "kid": .string("random-\(i)-\(UInt64.random(in: 0...UInt64.max))")],
                    payload: Std.claims(world.now), signer: .raw([UInt8](repeating: 7, count: 256)))
                group.addTask { await world.refusal(token)?.reason }
            }
            #expect(await eventually { world.fetcher.waitingCount == 1 })
            world.fetcher.release()
            var reasons: [String?] = []
            for await reason in group { reasons.append(reason) }
            return reasons
        }
        #expect(reasons.count == 1000)
        #expect(reasons.allSatisfy { $0 == "unknown_kid" })
        #expect(world.fetcher.calls(Std.jwksURL) == 2)

        // Within the interval: no more fetches, however many kids.
        for i in 0..<50 {
            _ = await world.refusal(world.token(header: ["kid": .string("again-\(i)")]))
        }
        #expect(world.fetcher.calls(Std.jwksURL) == 2)

        // After the interval, one more is allowed.
        world.clock.advance(Double(world.settings.jwksMinRefreshSeconds))
        _ = await world.refusal(world.token(header: ["kid": "later"]))
        _ = await world.refusal(world.token(header: ["kid": "later-2"]))
        #expect(world.fetcher.calls(Std.jwksURL) == 3)
    }

    @Test("callers waiting for a first fetch share it")
    func singleFlightFirstFetch() async throws {
        let world = CacheWorld()
        world.fetcher.hold()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<100 { group.addTask { try await world.keys().keys.count } }
            #expect(await eventually { world.fetcher.waitingCount == 1 })
            world.fetcher.release()
            for try await count in group { #expect(count == 4) }
        }
        #expect(world.fetches == 1)
    }

    @Test("when fetching fails, cached keys serve until max-stale, then keys are unavailable")
    func staleIfError() async throws {
        var settings = IdentitySettings()
        settings.jwksCacheSeconds = 600
        settings.jwksMaxStaleSeconds = 3600
        let world = VerifierWorld(settings: settings)
        _ = try await world.verify(world.token())
        world.fetcher.fail(Std.jwksURL)

        world.clock.advance(601)
        await world.keySets.refreshDue()
        #expect(world.fetcher.calls(Std.jwksURL) == 2)
        #expect(world.metrics.jwksFetches.value(["acme", "main", "error"]) == 1)
        #expect(try await world.verify(world.token()).subject == "user-1")

        world.clock.advance(3600 - 601 - 1)  // one second before max-stale
        await world.keySets.refreshDue()
        #expect(try await world.verify(world.token()).subject == "user-1")

        world.clock.advance(2)
        let error = await world.refusal(world.token())
        #expect(error?.kind == .keysUnavailable)
        #expect(error?.reason == "keys_unavailable")

        // The IdP comes back: the next due refresh restores service.
        world.fetcher.serveKeys(Std.jwksURL, TestKeys.standardJWKs)
        world.clock.advance(Double(settings.jwksMinRefreshSeconds))
        await world.keySets.refreshDue()
        #expect(try await world.verify(world.token()).subject == "user-1")
    }

    @Test("an IdP that never answered: keys unavailable, retried at most once per interval")
    func neverFetched() async {
        let world = VerifierWorld()
        world.fetcher.fail(Std.jwksURL)
        #expect(await world.refusal(world.token())?.kind == .keysUnavailable)
        #expect(await world.refusal(world.token())?.kind == .keysUnavailable)
        #expect(world.fetcher.calls(Std.jwksURL) == 1)
        world.clock.advance(Double(world.settings.jwksMinRefreshSeconds))
        #expect(await world.refusal(world.token())?.kind == .keysUnavailable)
        #expect(world.fetcher.calls(Std.jwksURL) == 2)
    }

    @Test("non-200, oversized and over-100-key documents are failures; good keys stay")
    func refusedDocuments() async throws {
        let world = CacheWorld()
        await world.cache.prime(world.snapshot)
        let bad: [(body: [UInt8], status: Int, result: String)] = [
            (TestKeys.document(TestKeys.standardJWKs), 500, "error"),
            (TestKeys.document(TestKeys.standardJWKs), 404, "error"),
            (Array(repeating: UInt8(ascii: " "), count: 256 * 1024 + 1), 200, "refused"),
            (TestKeys.document((0...100).map { TestKeys.jwk(TestKeys.p256, kid: "k\($0)") }), 200, "refused"),
            (Array("<html>".utf8), 200, "refused"),
        ]
        for (i, doc) in bad.enumerated() {
            world.fetcher.serve(Std.jwksURL, doc.body, status: doc.status)
            world.clock.advance(Double(world.settings.jwksCacheSeconds) + 1)
            await world.cache.refreshDue()
            #expect(world.fetches == i + 2)
            #expect(try await world.kids().contains("rsa1"))
        }
        #expect(world.fetchMetric("error") == 2)
        #expect(world.fetchMetric("refused") == 3)
    }

    @Test("an oversized first document leaves the IdP without keys")
    func oversizedFirst() async {
        let world = CacheWorld()
        world.fetcher.serve(Std.jwksURL, TestKeys.document((0..<101).map { TestKeys.jwk(TestKeys.p256, kid: "k\($0)") }))
        await #expect(throws: AuthError.self) { try await world.keys() }
    }

    @Test("discovery: jwks_uri from a document naming the configured issuer")
    func discovery() async throws {
        let discoveryURL = Std.issuer + "/.well-known/openid-configuration"
        let world = CacheWorld(idp: Std.idp(jwksURI: nil, discoveryURL: discoveryURL))
        world.fetcher.serve(discoveryURL, Array(#"{"issuer":"https://idp.example.com","jwks_uri":"https://idp.example.com/jwks"}"#.utf8))
        #expect(try await world.kids().count == 4)
        #expect(world.fetcher.calls(discoveryURL) == 1)
        // A refetch within the cache lifetime reuses the discovered location.
        world.clock.advance(Double(world.settings.jwksMinRefreshSeconds))
        _ = try await world.cache.refreshForUnknownKID(tenant: Std.tenant, idp: world.idp)
        #expect(world.fetches == 2)
        #expect(world.fetcher.calls(discoveryURL) == 1)
    }

    @Test("discovery: an issuer mismatch, a missing jwks_uri or an http jwks_uri is refused", arguments: [
        #"{"issuer":"https://idp.example.com/","jwks_uri":"https://idp.example.com/jwks"}"#,
        #"{"issuer":"https://evil.example.com","jwks_uri":"https://idp.example.com/jwks"}"#,
        #"{"jwks_uri":"https://idp.example.com/jwks"}"#,
        #"{"issuer":"https://idp.example.com"}"#,
        #"{"issuer":"https://idp.example.com","jwks_uri":"http://idp.example.com/jwks"}"#,
        #"{"issuer":"https://idp.example.com","jwks_uri":"https://user@idp.example.com/jwks"}"#,
        #"{"issuer":"https://idp.example.com","jwks_uri":"file:///etc/passwd"}"#,
        #"["issuer"]"#,
    ])
    func discoveryRefused(document: String) async {
        let discoveryURL = Std.issuer + "/.well-known/openid-configuration"
        let world = CacheWorld(idp: Std.idp(jwksURI: nil, discoveryURL: discoveryURL))
        world.fetcher.serve(discoveryURL, Array(document.utf8))
        world.fetcher.serve("http://idp.example.com/jwks", TestKeys.document(TestKeys.standardJWKs))
        await #expect(throws: AuthError.self) { try await world.keys() }
        #expect(world.fetches == 0)
        #expect(world.fetcher.calls("http://idp.example.com/jwks") == 0)
        #expect(world.fetchMetric("refused") == 1)
    }

    @Test("discovery: http jwks_uri allowed for insecure_idp_hosts")
    func discoveryInsecureHost() async throws {
        var settings = IdentitySettings()
        settings.insecureIdPHosts = ["127.0.0.1"]
        let discoveryURL = "http://127.0.0.1:9999/.well-known/openid-configuration"
        let world = CacheWorld(idp: Std.idp(issuer: "http://127.0.0.1:9999", jwksURI: nil, discoveryURL: discoveryURL), settings: settings)
        world.fetcher.serve(discoveryURL, Array(#"{"issuer":"http://127.0.0.1:9999","jwks_uri":"http://127.0.0.1:9999/jwks"}"#.utf8))
        world.fetcher.serveKeys("http://127.0.0.1:9999/jwks", TestKeys.standardJWKs)
        #expect(try await world.kids().count == 4)
    }

    @Test("prime: failures are not fatal; entries of IdPs gone from the snapshot are dropped")
    func primeAndPrune() async throws {
        let otherURL = "https://other.example.com/jwks"
        let other = Std.idp(name: "other", issuer: "https://other.example.com", jwksURI: otherURL)
        let world = CacheWorld()
        world.fetcher.fail(otherURL)
        let both = Std.snapshot([Std.tenant("acme", idps: [world.idp, other])])
        await world.cache.prime(both)
        #expect(world.fetches == 1)
        #expect(world.fetcher.calls(otherURL) == 1)
        #expect(world.fetchMetric("ok") == 1)
        #expect(world.metrics.jwksFetches.value(["acme", "other", "error"]) == 1)
        // Priming again soon refetches neither the fresh entry nor (rate-limited) the failed one.
        await world.cache.prime(both)
        #expect(world.fetches == 1)
        #expect(world.fetcher.calls(otherURL) == 1)

        // The IdP leaves the snapshot: its keys are forgotten; when it comes back they are fetched again.
        await world.cache.prime(Std.snapshot([Std.tenant("acme", idps: [other])]))
        _ = try await world.keys()
        #expect(world.fetches == 2)
    }

    @Test("prime without forgetting (start-up, before the registered IdPs are known) keeps the other entries")
    func primeWithoutForgetting() async throws {
        let otherURL = "https://other.example.com/jwks"
        let other = Std.idp(name: "other", issuer: "https://other.example.com", jwksURI: otherURL)
        let world = CacheWorld()
        world.fetcher.serveKeys(otherURL, TestKeys.standardJWKs)
        await world.cache.prime(Std.snapshot([Std.tenant("acme", idps: [world.idp, other])]))
        await world.cache.prime(Std.snapshot([Std.tenant("acme", idps: [other])]), forgettingOthers: false)
        _ = try await world.keys()
        #expect(world.fetches == 1, "the entry not in the second snapshot kept its keys")
    }

    @Test("remove forgets an IdP's keys")
    func remove() async throws {
        let world = CacheWorld()
        _ = try await world.keys()
        world.cache.remove(tenant: Std.tenant, idp: "main")
        _ = try await world.keys()
        #expect(world.fetches == 2)
    }

    @Test("a fetch still running when its IdP is removed does not resurrect it")
    func removeDuringFetch() async throws {
        let world = CacheWorld()
        world.fetcher.hold()
        let pending = Task { try? await world.keys() }
        #expect(await eventually { world.fetcher.waitingCount == 1 })
        world.cache.remove(tenant: Std.tenant, idp: "main")
        world.fetcher.release()
        _ = await pending.value
        _ = try await world.keys()
        #expect(world.fetches == 2)
    }

    @Test("priming many IdPs runs at most maxConcurrentFetches fetches at once, and a token's IdP goes first")
    func primeIsBoundedAndATokenJumpsTheQueue() async throws {
        let clock = TestClock()
        let fetcher = StubFetcher()
        let count = KeySetCache.maxConcurrentFetches + 40
        var tenants: [Tenant] = []
        for i in 0..<count {
            let url = "https://idp-\(i).example.com/jwks"
            fetcher.serveKeys(url, TestKeys.standardJWKs)
            tenants.append(Std.tenant("t\(i)", idps: [Std.idp(issuer: "https://idp-\(i).example.com", jwksURI: url)]))
        }
        let cache = KeySetCache(settings: IdentitySettings(), fetcher: fetcher, clock: clock.now, metrics: nil, logger: Std.logger)
        fetcher.hold()
        let priming = Task { await cache.prime(Std.snapshot(tenants)) }
        let limit = KeySetCache.maxConcurrentFetches
        var settled = false
        for _ in 0..<15_000 where !settled {
            let queued = await cache.queuedFetches.all
            settled = fetcher.waitingCount == limit && queued == count - limit
            if !settled { try await Task.sleep(for: .milliseconds(1)) }
        }
        #expect(settled, "\(limit) fetches running, the rest queued")
        #expect(fetcher.totalCalls == limit, "no more than \(limit) fetches started")

        // A token arrives for an IdP whose fetch is queued: it is fetched next.
        let index = try #require((0..<count).first { fetcher.calls("https://idp-\($0).example.com/jwks") == 0 })
        let waitingURL = "https://idp-\(index).example.com/jwks"
        let token = Task {
            try await cache.keySet(tenant: TenantID("t\(index)")!, idp: tenants[index].idps[0]).keys.count
        }
        var promoted = false
        for _ in 0..<15_000 where !promoted {
            promoted = (await cache.queuedFetches).urgent == 1
            if !promoted { try await Task.sleep(for: .milliseconds(1)) }
        }
        #expect(promoted)
        fetcher.releaseOne()  // one running fetch ends and hands its turn on
        #expect(await eventually { fetcher.totalCalls == limit + 1 })
        #expect(fetcher.calls(waitingURL) == 1, "the fetch a token waits for went ahead of the background ones")
        fetcher.release()
        #expect(try await token.value == 4)
        await priming.value
        #expect(fetcher.totalCalls == count)
    }
}

