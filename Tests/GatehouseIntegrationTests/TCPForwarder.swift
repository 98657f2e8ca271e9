import NIOCore
import NIOPosix
import Synchronization

/// A loopback TCP forwarder to a real server, which a test can cut (every connection closed,
/// new ones refused) and restore on the same port: from Gatehouse's side, the database going
/// away and coming back, while the server itself (shared with other tests) keeps running.
final class TCPForwarder: Sendable {
    let group: EventLoopGroup
    let targetHost: String
    let targetPort: Int
    private let state = Mutex<(listener: Channel?, connections: [Channel], port: Int)>((nil, [], 0))

    init(group: EventLoopGroup, targetHost: String, targetPort: Int) {
        self.group = group
        self.targetHost = targetHost
        self.targetPort = targetPort
    }

    var port: Int { state.withLock { $0.port } }

    /// Starts listening (on the previous port after a `cut`).
    func start() async throws {
        let (host, targetPort) = (targetHost, self.targetPort)
        let listenPort = self.port
        let group = self.group
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] inbound in
                ClientBootstrap(group: inbound.eventLoop).connect(host: host, port: targetPort).flatMap { outbound in
                    self.track(inbound, outbound)
                    let (a, b) = GlueHandler.pair()
                    // The client side reads only once this initializer is done, so nothing is lost.
                    return inbound.pipeline.addHandler(a).and(outbound.pipeline.addHandler(b)).map { _ in }
                }
            }
        let listener = try await bootstrap.bind(host: "127.0.0.1", port: listenPort).get()
        state.withLock { $0.listener = listener; $0.port = listener.localAddress?.port ?? 0 }
    }

    /// Closes the listener and every forwarded connection.
    func cut() async {
        let (listener, connections) = state.withLock { s -> (Channel?, [Channel]) in
            defer { s.listener = nil; s.connections = [] }
            return (s.listener, s.connections)
        }
        try? await listener?.close()
        for c in connections { try? await c.close() }
    }

    private func track(_ channels: Channel...) {
        state.withLock { $0.connections.append(contentsOf: channels) }
    }
}

/// Copies bytes between two channels; closing one closes the other.
private final class GlueHandler: ChannelDuplexHandler, @unchecked Sendable {
    // @unchecked: each handler lives on its channel's loop; both channels share one loop.
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?

    static func pair() -> (GlueHandler, GlueHandler) {
        let a = GlueHandler(), b = GlueHandler()
        a.partner = b
        b.partner = a
        return (a, b)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil; partner = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.context?.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
