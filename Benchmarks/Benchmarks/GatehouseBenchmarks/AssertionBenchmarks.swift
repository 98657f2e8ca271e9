import Benchmark
import GatehouseCore
import GatehouseIdentity

/// Signing the identity assertion Gatehouse adds for upstreams (an ES256 JWT), every time anew.
func assertionBenchmarks() {
    Benchmark("Assertion signed (ES256, fresh signature)") { (benchmark: Benchmark, fixture: AssertionFixture) in
        for _ in benchmark.scaledIterations {
            blackHole(fixture.signer.sign(fixture.principal))
        }
    } setup: {
        try await AssertionFixture.make()
    } teardown: {
        Fixtures.removeTemporaryDirectories(AssertionFixture.temporaryName)
    }
}

/// A signer with a key made for the run, and a verified principal to sign for.
struct AssertionFixture: Sendable {
    static let temporaryName = "assertion-keys"

    let signer: AssertionSigner
    let principal: Principal

    static func make() async throws -> AssertionFixture {
        let principal = try await IdentityFixture.make(cacheEntries: 0).verify(.ES256)
        let signer = try AssertionSigner(
            keyDirectory: try Fixtures.temporaryDirectory(temporaryName), issuer: "gatehouse", ttlSeconds: 60, clock: SystemWallClock.now)
        return AssertionFixture(signer: signer, principal: principal)
    }
}
