import Foundation
import GatehouseCore
import GatehouseIdentity
import GatehouseSessions
import Logging
import NIOCore
import NIOEmbedded

@testable import GatehouseProxy

/// The data plane on an `EmbeddedEventLoop`: one client connection (`HTTP1Connection`) and one
/// pooled upstream connection (`UpstreamLink`) on embedded channels. A test writes the client's
/// bytes, reads what went upstream, answers as the upstream, and reads what the client got —
/// the production code path without a socket. Tokens are verified ahead of time: `trust(_:)`
/// puts a principal in the loop's verified-token cache, as a verification would.
final class EmbeddedProxy {
    static let logger = Logger(label: "test")

    let loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    let upstream: EmbeddedChannel
    let runtime: ProxyRuntime
    let context: LoopContext
    let directory: String

    struct NoFetch: DocumentFetcher {
        struct Refused: Error {}
        func get(_ url: String) async throws -> FetchedDocument { throw Refused() }
    }

    struct NoCompletion: CompletionPoster {
        func post(url: String, body: [UInt8]) async throws -> Int { 503 }
    }

    static func tenant(_ id: String = "acme", upstream: String = "http://127.0.0.1:18081") -> Tenant {
        let idp = IdentityProvider(name: "dev", issuer: "https://idp.example", jwksURI: "https://idp.example/jwks", allowedClients: ["c"])
        return Tenant(
            id: TenantID(id)!, displayName: id, match: TenantMatch(hosts: ["\(id).test"], pathPrefix: "/t/\(id)"), idps: [idp],
            upstreams: [Upstream(url: upstream)!], propagate: Tenant.defaultPropagation)
    }

    init(tenants: [Tenant] = [EmbeddedProxy.tenant()], customize: (inout GatehouseSettings) -> Void = { _ in }) throws {
        directory = NSTemporaryDirectory() + "gatehouse-proxy-test-\(UUID().uuidString)"
        var settings = GatehouseSettings()
        settings.assertion.enabled = false
        customize(&settings)
        let snapshot = ConfigSnapshot(settings: settings, tenants: tenants)
        let keySets = KeySetCache(settings: settings.identity, fetcher: NoFetch(), clock: SystemWallClock.now, metrics: nil, logger: Self.logger)
        let authenticator = Authenticator(
            settings: settings.identity, keySets: keySets, cache: VerifiedTokenCache(capacity: 100, metrics: nil), clock: SystemWallClock.now,
            metrics: nil, logger: Self.logger)
        let store = try SQLiteSessionStore(path: directory + "/state.sqlite", logger: Self.logger)
        runtime = ProxyRuntime(
            snapshot: snapshot, authenticator: authenticator, signer: nil,
            sessions: SessionTable(store: store, clock: SystemWallClock.now, metrics: nil, logger: Self.logger),
            flows: try OAuthFlows(store: store, keyDirectory: directory + "/keys", completionPoster: NoCompletion(), clock: SystemWallClock.now, logger: Self.logger),
            metrics: GatehouseMetrics(), logger: Self.logger, accessLog: false)
        client = EmbeddedChannel(loop: loop)
        client.remoteAddress = try SocketAddress(ipAddress: "192.0.2.7", port: 50_000)
        upstream = EmbeddedChannel(loop: loop)
        upstream.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 18_081), promise: nil)
        let contexts = LoopContexts(group: loop, runtime: runtime, tls: nil)
        context = contexts.context(for: loop)!
        let link = UpstreamLink(idleTimeout: .seconds(300), maxHeadBytes: 65536)
        try upstream.pipeline.syncOperations.addHandler(link)
        let instance = runtime.config.tenants[tenants[0].id]!.upstreams.instances[0]
        context.pool.checkin(PooledUpstream(channel: upstream, link: link, instance: instance))
        try client.pipeline.syncOperations.addHandler(HTTP1Connection(loop: context, scheme: "http"))
        client.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 8080), promise: nil)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Makes `token` count as verified for `subject` of `tenant` (scope: requests routed to it).
    func trust(_ token: String, subject: String = "alice", tenant: String = "acme", scope: String? = "acme") {
        let config = context.currentConfig()
        let compiled = config.tenants[TenantID(tenant)!]!
        let principal = Principal(
            tenant: compiled.tenant.id, idp: "dev", issuer: "https://idp.example", subject: subject, clientID: "c", scopes: [],
            claims: .object(["sub": .string(subject)]), expiresAt: Int64(Date().timeIntervalSince1970) + 3600)
        context.tokens.insert(
            VerifiedEntry(
                token: Array(token.utf8), scope: scope.map { TenantID($0)! }, generation: context.configGeneration, principal: principal,
                tenant: compiled, validUntil: Date().timeIntervalSince1970 + 3600,
                propagated: PropagatedLines.build(tenant: compiled, principal: principal, logger: Self.logger)))
    }

    func send(_ text: String) throws {
        try client.writeInbound(ByteBuffer(string: text))
        client.pipeline.fireChannelReadComplete()
        loop.run()
    }

    /// What reached the upstream so far.
    func forwarded() throws -> String {
        var out = ""
        while let b = try upstream.readOutbound(as: ByteBuffer.self) { out += String(buffer: b) }
        return out
    }

    func answer(_ text: String) throws {
        try upstream.writeInbound(ByteBuffer(string: text))
        upstream.pipeline.fireChannelReadComplete()
        loop.run()
    }

    /// What the client got so far.
    func received() throws -> String {
        var out = ""
        while let b = try client.readOutbound(as: ByteBuffer.self) { out += String(buffer: b) }
        return out
    }
}
