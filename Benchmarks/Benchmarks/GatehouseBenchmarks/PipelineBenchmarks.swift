import Benchmark

/// A whole request through the data plane without sockets: `HTTP1Connection` and
/// `ProxyExchange` parse the head, resolve the tenant, strip, find the bearer token,
/// authenticate (a hit in the loop's verified-token cache), check limits and sessions, write the
/// upstream head with the propagated identity, the assertion and the forwarding headers, use the
/// upstream pool and relay the response, as in production; only the network is absent. Each
/// iteration is one request and its response.
func pipelineBenchmarks() {
    let variants: [(name: String, tenants: Int, route: PipelineDriver.Route)] = [
        ("1 tenant, by path prefix", 1, .pathPrefix),
        ("10,000 tenants, by Host", 10_000, .host),
        // The prefixes are scanned longest first: "/t/t0" is the last of 10,000.
        ("10,000 tenants, by path prefix matched last", 10_000, .pathPrefix),
    ]
    for variant in variants {
        Benchmark("Request through the data plane, cached token (\(variant.name))") { benchmark, state in
            let driver = try state.driver(route: variant.route)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let result = try driver.exchange()
                guard result.ok else { throw FixtureError("request not answered 200: \(result)") }
                blackHole(result)
            }
        } setup: {
            PipelineState(fixture: try await PipelineFixture.make(tenantCount: variant.tenants))
        } teardown: {
            Fixtures.removeTemporaryDirectories(PipelineFixture.temporaryName)
        }
    }
}

/// The fixture from the setup hook, and the driver made from it on the runner's thread.
final class PipelineState {
    let fixture: PipelineFixture
    private var made: PipelineDriver?

    init(fixture: PipelineFixture) { self.fixture = fixture }

    func driver(route: PipelineDriver.Route) throws -> PipelineDriver {
        if let made { return made }
        let driver = try PipelineDriver(fixture, route: route)
        made = driver
        return driver
    }
}
