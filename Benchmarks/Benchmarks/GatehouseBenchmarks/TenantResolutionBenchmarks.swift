import Benchmark
import GatehouseCore
@_spi(Benchmarks) import GatehouseIdentity
@_spi(Benchmarks) import GatehouseProxy

/// Finding the tenant of a request among 10,000: by `Host`, by path prefix, and by the token's
/// issuer (the candidate lookup that issuer routing does on every verification and cache hit).
/// Each iteration asks for another tenant, picked at random from 4,096 precomputed requests.
func tenantResolutionBenchmarks() {
    let hosts = Cursor(count: ResolutionFixture.inputs)
    let paths = Cursor(count: ResolutionFixture.inputs)
    let issuers = Cursor(count: ResolutionFixture.inputs)

    Benchmark("Tenant by Host (10,000 tenants)", configuration: .init(scalingFactor: .kilo)) { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            blackHole(BenchmarkHooks.tenant(forHost: fixture.hosts[hosts.next()], in: fixture.config))
        }
    } setup: {
        try ResolutionFixture.make()
    }

    Benchmark("Tenant by path prefix (10,000 tenants)", configuration: .init(scalingFactor: .one)) { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            blackHole(fixture.config.snapshot.tenant(forPath: fixture.paths[paths.next()]))
        }
    } setup: {
        try ResolutionFixture.make()
    }

    Benchmark("Tenant by path prefix, no match (10,000 tenants)", configuration: .init(scalingFactor: .one)) { benchmark, fixture in
        let path: Substring = "/mcp/v1/tools/list"
        for _ in benchmark.scaledIterations {
            blackHole(fixture.config.snapshot.tenant(forPath: path))
        }
    } setup: {
        try ResolutionFixture.make()
    }

    Benchmark("Tenant by issuer (10,000 tenants)", configuration: .init(scalingFactor: .kilo)) { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            let issuer = fixture.issuers[issuers.next()]
            blackHole(IdentityBenchmarkHooks.candidates(issuer: issuer, tenant: nil, snapshot: fixture.config.snapshot))
        }
    } setup: {
        try ResolutionFixture.make()
    }
}

/// 10,000 tenants compiled as the data plane holds them, and requests naming random ones.
struct ResolutionFixture: Sendable {
    static let tenantCount = 10_000
    /// Precomputed requests (a power of two, for `Cursor`).
    static let inputs = 4096

    let config: CompiledConfig
    let hosts: [String]
    let paths: [Substring]
    let issuers: [String]

    static func make() throws -> ResolutionFixture {
        let config = CompiledConfig(snapshot: Fixtures.snapshot(tenants: tenantCount))
        var generator = SystemRandomNumberGenerator()
        let picks = (0..<inputs).map { _ in Int.random(in: 0..<tenantCount, using: &generator) }
        let fixture = ResolutionFixture(
            config: config,
            hosts: picks.map { Fixtures.host($0) + ":443" },
            paths: picks.map { Substring(Fixtures.pathPrefix($0) + "/mcp") },
            issuers: picks.map(Fixtures.issuer))
        for (n, pick) in picks.prefix(64).enumerated() {
            let expected = Fixtures.tenantID(pick)
            guard BenchmarkHooks.tenant(forHost: fixture.hosts[n], in: config) == expected,
                config.snapshot.tenant(forPath: fixture.paths[n])?.tenant == expected,
                IdentityBenchmarkHooks.candidates(issuer: fixture.issuers[n], tenant: nil, snapshot: config.snapshot).first == expected
            else { throw FixtureError("tenant \(expected) is not resolved") }
        }
        return fixture
    }
}
