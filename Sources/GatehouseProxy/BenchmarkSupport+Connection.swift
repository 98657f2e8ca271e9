import GatehouseCore
import NIOCore

/// One client connection served by the real data plane (`HTTP1Connection`), with one pooled
/// upstream connection (`UpstreamLink`), both on channels the caller provides (SPI `Benchmarks`,
/// not API).
///
/// The benchmark passes two `EmbeddedChannel`s of one `EmbeddedEventLoop`: it writes request
/// bytes into `client`, reads the forwarded bytes from `upstream`, answers with response bytes and
/// reads what the client gets. Every step in between — parsing, tenant resolution, strip, bearer
/// extraction, authentication, limits, sessions, propagation, assertion, forwarding headers,
/// pooling, response relay, metrics — is the production code path; only sockets are absent. A
/// token that is not in a verified-token cache is verified on another thread, which an embedded
/// loop does not allow: warm the cache first (`Authenticator.authenticate`).
@_spi(Benchmarks)
public final class BenchmarkProxyConnection {
    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    private let loops: LoopContexts

    /// Installs the handlers. Call on `client.eventLoop`; `upstream` must be active, on the same
    /// loop, and stands for a keep-alive connection to the first upstream instance of `tenant`.
    public init(runtime: ProxyRuntime, tenant: TenantID, client: Channel, upstream: Channel, scheme: String = "http") throws {
        guard upstream.eventLoop === client.eventLoop else {
            throw SetupError(description: "client and upstream must share one event loop")
        }
        guard let instance = runtime.config.tenants[tenant]?.upstreams.instances.first else {
            throw SetupError(description: "tenant \(tenant) has no upstream instance in the configuration")
        }
        guard upstream.isActive else { throw SetupError(description: "the upstream channel is not active") }
        loops = LoopContexts(group: client.eventLoop, runtime: runtime, tls: nil)
        guard let loop = loops.context(for: client.eventLoop) else { throw SetupError(description: "no context for the client's loop") }
        let limits = runtime.config.snapshot.settings.limits
        let link = UpstreamLink(idleTimeout: .seconds(Int64(max(limits.upstreamIdleTimeoutSeconds, 1))), maxHeadBytes: 65536)
        try upstream.pipeline.syncOperations.addHandler(link)
        loop.pool.checkin(PooledUpstream(channel: upstream, link: link, instance: instance))
        try client.pipeline.syncOperations.addHandler(HTTP1Connection(loop: loop, scheme: scheme))
    }
}
