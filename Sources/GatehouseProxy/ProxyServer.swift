import GatehouseCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// The data-plane listener: accepts client connections and gives each its `ProxyHandler`.
public final class ProxyServer: Sendable {
    private let runtime: ProxyRuntime
    private let group: EventLoopGroup
    private let pools: UpstreamPools
    private let channel = Mutex<Channel?>(nil)

    public init(runtime: ProxyRuntime, group: EventLoopGroup) throws {
        self.runtime = runtime
        self.group = group
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        self.pools = UpstreamPools(group: group, tls: try NIOSSLContext(configuration: tls))
    }

    /// Binds and starts serving; returns the bound port (useful with port 0). With `tls`, the
    /// listener speaks TLS only (ALPN `h2`, `http/1.1`); without, HTTP/1.1 and h2c with prior knowledge.
    public func start(host: String, port: Int, tls: ListenerTLS? = nil) async throws -> Int {
        let runtime = self.runtime
        let pools = self.pools
        let tlsContext = try tls.map(ProxyPipeline.tlsContext)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try ProxyPipeline.configure(channel, runtime: runtime, pools: pools, tls: tlsContext)
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        self.channel.withLock { $0 = channel }
        return channel.localAddress?.port ?? port
    }

    public func shutdown() async {
        let channel = self.channel.withLock { c -> Channel? in
            defer { c = nil }
            return c
        }
        try? await channel?.close()
    }
}
