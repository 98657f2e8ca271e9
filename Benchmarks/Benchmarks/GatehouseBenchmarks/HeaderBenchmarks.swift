import Benchmark
import GatehouseCore
@_spi(Benchmarks) import GatehouseProxy
import NIOHTTP1

/// The header rules of the request path for a rich (~2 KB) token and a tenant propagating ten
/// claims: strip the client's identity headers, find the bearer token, set the propagated ones.
func headerBenchmarks() {
    Benchmark(
        "Headers strip + bearer + propagate (2 KB token, 10 claim headers)", configuration: .init(scalingFactor: .kilo)
    ) { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            var headers = fixture.inbound
            BenchmarkHooks.strip(&headers, config: fixture.config, tenant: fixture.principal.tenant)
            blackHole(BenchmarkHooks.bearerToken(headers))
            BenchmarkHooks.propagate(into: &headers, config: fixture.config, principal: fixture.principal, logger: Fixtures.logger)
            blackHole(headers)
        }
    } setup: {
        try await HeaderFixture.make()
    }

    Benchmark("Headers strip only (tenant known)", configuration: .init(scalingFactor: .kilo)) { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            var headers = fixture.inbound
            BenchmarkHooks.strip(&headers, config: fixture.config, tenant: fixture.principal.tenant)
            blackHole(headers)
        }
    } setup: {
        try await HeaderFixture.make()
    }

    Benchmark("Headers propagate only (10 claim headers)", configuration: .init(scalingFactor: .kilo)) { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            var headers = fixture.inbound
            BenchmarkHooks.propagate(into: &headers, config: fixture.config, principal: fixture.principal, logger: Fixtures.logger)
            blackHole(headers)
        }
    } setup: {
        try await HeaderFixture.make()
    }
}

/// A verified principal from a ~2 KB RS256 token, its tenant's compiled config, and the request
/// headers a client sends, spoofed identity headers included.
struct HeaderFixture: Sendable {
    let config: CompiledConfig
    let principal: Principal
    let inbound: HTTPHeaders

    static func make() async throws -> HeaderFixture {
        let identity = try await IdentityFixture.make(cacheEntries: 0, propagate: Fixtures.tenClaimHeaders, largeToken: true)
        let token = identity.token(.RS256)
        let fixture = HeaderFixture(
            config: CompiledConfig(snapshot: identity.snapshot), principal: try await identity.verify(.RS256),
            inbound: [
                "Host": Fixtures.host(0), "User-Agent": "agent-sdk/1.4.2 (linux; x86_64)",
                "Accept": "application/json, text/event-stream", "Content-Type": "application/json",
                "Authorization": "Bearer \(token)", "Mcp-Session-Id": "3f9c1b2e-8d47-4a61-9b0e-5c2d7f18a0b4",
                "X-Request-Id": "req-7f3a9c", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                // Spoofed identity headers the client must not be able to set:
                "X-User-Id": "admin", "x_user_email": "root@example.com", "X-Gatehouse-Assertion": "forged",
            ])
        try fixture.check(tokenBytes: token.utf8.count)
        return fixture
    }

    /// Fails the setup unless one pass does what the benchmark claims.
    private func check(tokenBytes: Int) throws {
        var headers = inbound
        BenchmarkHooks.strip(&headers, config: config, tenant: principal.tenant)
        guard BenchmarkHooks.bearerToken(headers) != nil else { throw FixtureError("no bearer token found") }
        BenchmarkHooks.propagate(into: &headers, config: config, principal: principal, logger: Fixtures.logger)
        let propagated = Fixtures.tenClaimHeaders.filter { headers[$0.header].count == 1 }.count
        guard (1900...2300).contains(tokenBytes), propagated == 10, headers["X-User-Id"] == [principal.subject],
            headers["x_user_email"].isEmpty, headers["X-Gatehouse-Assertion"].isEmpty
        else {
            throw FixtureError("header fixture is off: token \(tokenBytes) bytes, \(propagated) headers propagated, \(headers)")
        }
    }
}
