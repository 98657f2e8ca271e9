import Benchmark
import GatehouseCore

/// Token verification per algorithm: with every call verifying a signature (the verified-token
/// cache off, as with `identity.token_cache_entries: 0` or a new token), and as a cache hit.
func tokenBenchmarks() {
    for algorithm in IdentityFixture.algorithms {
        Benchmark("Token verify \(algorithm.rawValue) (signature each time)") { (benchmark: Benchmark, fixture: IdentityFixture) async in
            for _ in benchmark.scaledIterations {
                blackHole(try? await fixture.verify(algorithm))
            }
        } setup: {
            try await IdentityFixture.make(cacheEntries: 0)
        }

        Benchmark(
            "Token verify \(algorithm.rawValue) (verified-token cache hit)",
            configuration: .init(scalingFactor: .kilo)
        ) { (benchmark: Benchmark, fixture: IdentityFixture) in
            let token = fixture.token(algorithm)
            for _ in benchmark.scaledIterations {
                blackHole(fixture.authenticator.cachedPrincipal(token: token, tenant: fixture.tenant, snapshot: fixture.snapshot))
            }
        } setup: {
            let fixture = try await IdentityFixture.make(cacheEntries: 100_000)
            let token = fixture.token(algorithm)
            let hit = fixture.authenticator.cachedPrincipal(token: token, tenant: fixture.tenant, snapshot: fixture.snapshot)
            guard hit != nil else { throw FixtureError("the verified token is not in the cache") }
            return fixture
        }
    }
}
