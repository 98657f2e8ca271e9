import GatehouseCore
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The data-plane listener: accepts client connections and gives each its handlers (`ProxyPipeline`).
public final class ProxyServer: Sendable {
    private let runtime: ProxyRuntime
    private let group: EventLoopGroup
    private let loops: LoopContexts
    private let channel = Mutex<Channel?>(nil)
    /// Open client connections, to quiesce and close them at shutdown.
    private let connections = Mutex<[ObjectIdentifier: Channel]>([:])
    /// The listener's TLS context: read for each new connection, replaced by `reloadTLS`
    /// (connections already open keep the one they were accepted with).
    private let tlsContext = Mutex<NIOSSLContext?>(nil)

    public init(runtime: ProxyRuntime, group: EventLoopGroup) throws {
        self.runtime = runtime
        self.group = group
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        self.loops = LoopContexts(group: group, runtime: runtime, tls: try NIOSSLContext(configuration: tls))
    }

    /// Binds and starts serving; returns the bound port (useful with port 0). With `tls`, the
    /// listener speaks TLS only (ALPN `h2`, `http/1.1`); without, HTTP/1.1 and h2c with prior knowledge.
    public func start(host: String, port: Int, tls: ListenerTLS? = nil) async throws -> Int {
        let loops = self.loops
        let initial = try tls.map(ProxyPipeline.tlsContext)
        tlsContext.withLock { $0 = initial }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                let id = ObjectIdentifier(channel)
                connections.withLock { $0[id] = channel }
                channel.closeFuture.whenComplete { _ in _ = self.connections.withLock { $0.removeValue(forKey: id) } }
                let tls = tlsContext.withLock { $0 }
                return channel.eventLoop.makeCompletedFuture {
                    guard let loop = loops.context(for: channel.eventLoop) else { throw ChannelError.ioOnClosedChannel }
                    try ProxyPipeline.configure(channel, loop: loop, tls: tls)
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        self.channel.withLock { $0 = channel }
        return channel.localAddress?.port ?? port
    }

    /// Reads the certificate chain and key again and uses them for new connections; open ones
    /// keep theirs. On failure (a file missing, unreadable, or a key that does not fit) the
    /// context in use stays and the error is thrown.
    public func reloadTLS(_ tls: ListenerTLS) throws {
        let context = try ProxyPipeline.tlsContext(tls)
        tlsContext.withLock { $0 = context }
    }

    /// Open client connections.
    public var connectionCount: Int { connections.withLock { $0.count } }

    /// Stops accepting connections; those open are asked to quiesce (`ChannelShouldQuiesceEvent`):
    /// an idle HTTP/1.1 connection closes at once, a busy one after its response; an HTTP/2
    /// connection gets GOAWAY and closes once its open streams have finished.
    public func stopAccepting() async {
        let channel = self.channel.withLock { c -> Channel? in
            defer { c = nil }
            return c
        }
        try? await channel?.close()
        for connection in connections.withLock({ Array($0.values) }) {
            connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    /// Closes every client connection still open, whatever it is doing.
    public func closeConnections() async {
        for connection in connections.withLock({ Array($0.values) }) {
            try? await connection.close()
        }
    }

    public func shutdown() async {
        await stopAccepting()
        await closeConnections()
    }
}
