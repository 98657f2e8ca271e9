// relay LISTEN_PORT UPSTREAM_PORT: accepts on 127.0.0.1:LISTEN_PORT and, for each client
// connection, opens one connection to 127.0.0.1:UPSTREAM_PORT and copies bytes both ways, on one
// event loop. No parsing, no headers, no pooling: what SwiftNIO alone costs per request, the floor
// every proxy in the comparison is read against.
import NIOCore
import NIOPosix

/// Copies what one side reads to the other side; reads stop while the other side's buffer is
/// full (backpressure), and closing either side closes both.
final class Splice: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    var peer: Channel?
    private var pendingFlush = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let peer else { return }
        peer.write(Self.unwrapInboundIn(data), promise: nil)
        pendingFlush = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard pendingFlush, let peer else { return }
        pendingFlush = false
        peer.flush()
        if !peer.isWritable { context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer?.close(promise: nil)
        peer = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// Resumes the other side's reads once this side can take bytes again.
final class Resume: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    weak var other: Channel?

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let other {
            other.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        }
        context.fireChannelWritabilityChanged()
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let listenPort = Int(arguments[1]), let upstreamPort = Int(arguments[2]) else {
    fatalError("usage: relay LISTEN_PORT UPSTREAM_PORT")
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let server = try ServerBootstrap(group: group)
    .serverChannelOption(ChannelOptions.backlog, value: 1024)
    .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(ChannelOptions.autoRead, value: false)
    .childChannelInitializer { client in
        // Both sides' handlers know their peer before the upstream connection exists; the
        // client's reads start once it does.
        let clientSide = Splice()
        let upstreamSide = Splice()
        upstreamSide.peer = client
        let resumeUpstream = Resume()
        return client.pipeline.addHandlers([clientSide, resumeUpstream]).map {
            let resumeClient = Resume()
            resumeClient.other = client
            ClientBootstrap(group: client.eventLoop)
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { upstream in
                    upstream.pipeline.addHandlers([upstreamSide, resumeClient])
                }
                .connect(host: "127.0.0.1", port: upstreamPort)
                .whenComplete { result in
                    switch result {
                    case .success(let upstream):
                        clientSide.peer = upstream
                        resumeUpstream.other = upstream
                        client.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                    case .failure:
                        client.close(promise: nil)
                    }
                }
        }
    }
    .bind(host: "127.0.0.1", port: listenPort)
    .wait()
try server.closeFuture.wait()
