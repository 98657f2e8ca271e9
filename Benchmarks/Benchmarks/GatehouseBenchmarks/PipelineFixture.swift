import GatehouseCore
import GatehouseIdentity
import GatehouseProxy
import GatehouseSessions

/// A `ProxyRuntime` as `gatehouse serve` builds it — authenticator with the verified-token
/// cache, assertion signer, session table and OAuth flows over SQLite — with key sets served
/// from memory and the benchmark token already verified once (so requests are cache hits).
///
/// The access log is off: it would write a line per request to the benchmark's output.
struct PipelineFixture: Sendable {
    /// For `Fixtures.removeTemporaryDirectories`.
    static let temporaryName = "pipeline"

    let runtime: ProxyRuntime
    let tenant: TenantID
    let token: String
    let subject: String

    static func make(tenantCount: Int) async throws -> PipelineFixture {
        let identity = try await IdentityFixture.make(cacheEntries: 100_000, tenantCount: tenantCount)
        let directory = try Fixtures.temporaryDirectory(temporaryName)
        let keyDirectory = directory + "/keys"
        let settings = identity.snapshot.settings
        let signer = try AssertionSigner(
            keyDirectory: keyDirectory, issuer: settings.assertion.issuer, ttlSeconds: settings.assertion.ttlSeconds,
            clock: SystemWallClock.now)
        let store = try SQLiteSessionStore(path: directory + "/state.sqlite", logger: Fixtures.logger)
        let runtime = ProxyRuntime(
            snapshot: identity.snapshot, authenticator: identity.authenticator, signer: signer,
            sessions: SessionTable(store: store, clock: SystemWallClock.now, metrics: nil, logger: Fixtures.logger),
            flows: try OAuthFlows(
                store: store, keyDirectory: keyDirectory, completionPoster: RefusingCompletionPoster(), clock: SystemWallClock.now,
                logger: Fixtures.logger),
            metrics: GatehouseMetrics(), logger: Fixtures.logger, accessLog: false)
        let principal = try await identity.verify(.RS256)  // also puts the token in the cache
        return PipelineFixture(runtime: runtime, tenant: identity.tenant, token: identity.token(.RS256), subject: principal.subject)
    }
}

/// OAuth completions never happen in these benchmarks.
struct RefusingCompletionPoster: CompletionPoster {
    func post(url: String, body: [UInt8]) async throws -> Int { 503 }
}
