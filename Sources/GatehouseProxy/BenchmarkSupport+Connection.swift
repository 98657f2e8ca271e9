import GatehouseCore
import NIOCore

/// One client connection served by the real `ProxyHandler`, with one pooled upstream
/// connection, both on channels the caller provides (SPI `Benchmarks`, not API).
///
/// The benchmark passes two `EmbeddedChannel`s of one `EmbeddedEventLoop`: it writes
/// `HTTPServerRequestPart`s into `client`, reads the forwarded `HTTPClientRequestPart`s from
/// `upstream`, answers with `HTTPClientResponsePart`s and reads the `HTTPServerResponsePart`s the
/// client gets. Every step in between — tenant resolution, strip, bearer extraction,
/// authentication, limits, sessions, propagation, assertion, forwarding headers, pooling,
/// response relay, metrics — is the production code path; only sockets and codecs are absent.
/// A token that is not in the verified-token cache is verified on another thread, which an
/// embedded loop does not allow: warm the cache first (`Authenticator.authenticate`).
@_spi(Benchmarks)
public final class BenchmarkProxyConnection {
    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    private let pools: UpstreamPools

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
        pools = UpstreamPools(group: client.eventLoop, tls: nil)
        guard let pool = pools.pool(for: client.eventLoop) else { throw SetupError(description: "no pool for the client's loop") }
        let upstreamHandler = UpstreamClientHandler()
        try upstream.pipeline.syncOperations.addHandler(upstreamHandler)
        pool.checkin(UpstreamConnection(channel: upstream, handler: upstreamHandler, instance: instance))
        try client.pipeline.syncOperations.addHandler(ProxyHandler(runtime: runtime, pools: pools, scheme: scheme, activity: ConnectionActivity()))
    }
}
