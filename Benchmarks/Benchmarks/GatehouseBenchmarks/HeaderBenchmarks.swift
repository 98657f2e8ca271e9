import Benchmark
import GatehouseCore
@_spi(Benchmarks) import GatehouseProxy
import NIOCore

/// The header rules of the request path for a rich (~2 KB) token and a tenant propagating ten
/// claims: parse the head in place, strip the client's identity headers, find the bearer token;
/// and build the propagated header lines (what the verified-token cache keeps ready per token).
func headerBenchmarks() {
    Benchmark("Head parse + strip + bearer (2 KB token)", configuration: .init(scalingFactor: .kilo)) { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            blackHole(BenchmarkHooks.parseStripAndFindToken(fixture.inbound, config: fixture.config, tenant: fixture.principal.tenant))
        }
    } setup: {
        try await HeaderFixture.make()
    }

    Benchmark("Propagated lines (10 claim headers)", configuration: .init(scalingFactor: .kilo)) { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            blackHole(BenchmarkHooks.propagatedLines(config: fixture.config, principal: fixture.principal, logger: Fixtures.logger))
        }
    } setup: {
        try await HeaderFixture.make()
    }
}

/// A verified principal from a ~2 KB RS256 token, its tenant's compiled config, and the request
/// head a client sends, spoofed identity headers included.
struct HeaderFixture: Sendable {
    let config: CompiledConfig
    let principal: Principal
    let inbound: ByteBuffer

    static func make() async throws -> HeaderFixture {
        let identity = try await IdentityFixture.make(cacheEntries: 0, propagate: Fixtures.tenClaimHeaders, largeToken: true)
        let token = identity.token(.RS256)
        let head = "POST /mcp HTTP/1.1\r\nHost: \(Fixtures.host(0))\r\nUser-Agent: agent-sdk/1.4.2 (linux; x86_64)\r\n"
            + "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\nAuthorization: Bearer \(token)\r\n"
            + "Mcp-Session-Id: 3f9c1b2e-8d47-4a61-9b0e-5c2d7f18a0b4\r\nX-Request-Id: req-7f3a9c\r\n"
            + "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
            // Spoofed identity headers the client must not be able to set:
            + "X-User-Id: admin\r\nx_user_email: root@example.com\r\nX-Gatehouse-Assertion: forged\r\nContent-Length: 2\r\n\r\n"
        let fixture = HeaderFixture(
            config: CompiledConfig(snapshot: identity.snapshot), principal: try await identity.verify(.RS256), inbound: ByteBuffer(string: head))
        try fixture.check(tokenBytes: token.utf8.count)
        return fixture
    }

    /// Fails the setup unless one pass does what the benchmark claims.
    private func check(tokenBytes: Int) throws {
        let stripped = BenchmarkHooks.parseStripAndFindToken(inbound, config: config, tenant: principal.tenant)
        let lines = BenchmarkHooks.propagatedLines(config: config, principal: principal, logger: Fixtures.logger) ?? 0
        guard (1900...2300).contains(tokenBytes), stripped == 3, lines > 100 else {
            throw FixtureError("header fixture is off: token \(tokenBytes) bytes, \(String(describing: stripped)) stripped, \(lines) bytes of lines")
        }
    }
}
