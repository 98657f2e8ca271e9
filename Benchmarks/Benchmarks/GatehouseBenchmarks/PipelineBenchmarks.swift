import Benchmark

/// A whole request through the data plane without sockets: `ProxyHandler` does tenant
/// resolution, strip, bearer extraction, authentication (a verified-token cache hit), limits,
/// session checks, propagation, the assertion header (from `AssertionSigner`, as the handler
/// asks for it), forwarding headers, the upstream pool and the response relay, as in production;
/// only the network and the HTTP codec are absent. Each iteration is one request and its response.
func pipelineBenchmarks() {
    let variants: [(name: String, tenants: Int, route: PipelineDriver.Route)] = [
        ("1 tenant, by path prefix", 1, .pathPrefix),
        ("10,000 tenants, by Host", 10_000, .host),
        // The prefixes are scanned longest first: "/t/t0" is the last of 10,000.
        ("10,000 tenants, by path prefix matched last", 10_000, .pathPrefix),
    ]
    for variant in variants {
        Benchmark("Request through ProxyHandler, cached token (\(variant.name))") { benchmark, state in
            let driver = try state.driver(route: variant.route)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let result = try driver.exchange()
                guard result.status == .ok else { throw FixtureError("request answered \(String(describing: result.status))") }
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
