import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Answers one request. Runs as its own task; it is cancelled when the server shuts down.
public typealias HTTPServerHandler = @Sendable (HTTPServerRequest) async -> HTTPServerResponse

/// A small HTTP/1.1 server for everything that is not the data plane: the admin listener, the
/// demo IdP and agents, test upstreams. Keep-alive, bounded request bodies, streamed responses.
///
/// Shutdown is abrupt on purpose: the listener closes and in-flight handlers are cancelled.
/// Nothing served here holds state a client would lose mid-request.
public final class SimpleHTTPServer: Sendable {
    public struct Configuration: Sendable {
        /// A bigger body is answered 413 and the connection closed.
        public var maxRequestBodyBytes: Int
        /// Total size of a request's header block; a bigger one is a parse error (400, closed).
        public var maxHeaderBytes: Int
        /// A connection that neither reads nor writes for this long is closed, so an abandoned or
        /// deliberately slow client cannot hold a connection forever.
        public var idleTimeout: TimeAmount

        public init(maxRequestBodyBytes: Int = 1 << 20, maxHeaderBytes: Int = 32 * 1024, idleTimeout: TimeAmount = .seconds(60)) {
            self.maxRequestBodyBytes = maxRequestBodyBytes
            self.maxHeaderBytes = maxHeaderBytes
            self.idleTimeout = idleTimeout
        }
    }

    /// The port actually bound (useful when asked for port 0).
    public let port: Int
    public let localAddress: SocketAddress
    private let listener: Channel
    private let serving: Task<Void, Never>
    private let stats: ServerStats

    private init(port: Int, localAddress: SocketAddress, listener: Channel, serving: Task<Void, Never>, stats: ServerStats) {
        self.port = port
        self.localAddress = localAddress
        self.listener = listener
        self.serving = serving
        self.stats = stats
    }

    /// Connections accepted since start: lets tests prove keep-alive reuse, or that a refused
    /// client never connected at all.
    public var acceptedConnections: Int { stats.accepted.load(ordering: .relaxed) }

    /// Binds and starts serving. `port` 0 picks a free port (see `port`).
    public static func start(
        host: String = "127.0.0.1", port: Int = 0, group: any EventLoopGroup,
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "gatehouse.http"),
        handler: @escaping HTTPServerHandler
    ) async throws -> SimpleHTTPServer {
        let decoderLimits = {
            var l = NIOHTTPDecoderLimitConfiguration()
            l.maxHeaderListSize = configuration.maxHeaderBytes
            l.maxHeaderFieldSize = configuration.maxHeaderBytes
            return l
        }()
        let idleTimeout = configuration.idleTimeout
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .bind(host: host, port: port) { channel in
                // The initializer runs on the channel's event loop, so the sync pipeline API is safe.
                do {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                    try sync.addHandler(IdleConnectionCloser())
                    try sync.configureHTTPServerPipeline(
                        withErrorHandling: true,
                        withEncoderConfiguration: HTTPResponseEncoder.Configuration(),
                        withDecoderLimitConfiguration: decoderLimits)
                    let wrapped = try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel)
                    return channel.eventLoop.makeSucceededFuture(wrapped)
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        guard let local = server.channel.localAddress, let boundPort = local.port else {
            try? await server.channel.close()
            throw ChannelError.unknownLocalAddress
        }
        let stats = ServerStats()
        let connection = ConnectionServer(
            handler: handler, maxBodyBytes: configuration.maxRequestBodyBytes, logger: logger)
        let serving = Task {
            do {
                try await server.executeThenClose { inbound in
                    try await withThrowingDiscardingTaskGroup { group in
                        for try await child in inbound {
                            stats.accepted.add(1, ordering: .relaxed)
                            group.addTask { await connection.serve(child) }
                        }
                    }
                }
            } catch {
                logger.debug("listener stopped", metadata: ["error": "\(error)"])
            }
        }
        return SimpleHTTPServer(port: boundPort, localAddress: local, listener: server.channel, serving: serving, stats: stats)
    }

    /// Stops accepting, cancels in-flight handlers, closes every connection, and returns when done.
    public func shutdown() async throws {
        try? await listener.close()
        serving.cancel()
        await serving.value
    }
}

final class ServerStats: Sendable {
    let accepted = Atomic<Int>(0)
}

/// Closes a connection on the idle event raised by `IdleStateHandler`.
public final class IdleConnectionCloser: ChannelInboundHandler, Sendable {
    public typealias InboundIn = NIOAny

    public init() {}

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
