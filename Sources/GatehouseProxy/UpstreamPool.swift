import GatehouseCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Keep-alive upstream connections of one event loop. Client connections on that loop use
/// them without locks or thread hops; the pool is only touched from its own loop.
final class UpstreamPool {
    let eventLoop: EventLoop
    private var idle: [Upstream: [UpstreamConnection]] = [:]
    private let maxIdlePerUpstream = 128
    private let tls: NIOSSLContext?

    init(eventLoop: EventLoop, tls: NIOSSLContext?) {
        self.eventLoop = eventLoop
        self.tls = tls
    }

    /// A live idle connection to `instance`, if the pool has one.
    func checkout(_ instance: UpstreamInstance) -> UpstreamConnection? {
        eventLoop.preconditionInEventLoop()
        while var list = idle[instance.upstream], let conn = list.popLast() {
            idle[instance.upstream] = list
            if conn.channel.isActive { return conn }
        }
        return nil
    }

    func checkin(_ conn: UpstreamConnection) {
        eventLoop.preconditionInEventLoop()
        conn.handler.delegate = nil
        guard conn.reusable, conn.channel.isActive else {
            conn.channel.close(promise: nil)
            return
        }
        var list = idle[conn.instance.upstream] ?? []
        list.removeAll { !$0.channel.isActive }
        guard list.count < maxIdlePerUpstream else {
            conn.channel.close(promise: nil)
            return
        }
        list.append(conn)
        idle[conn.instance.upstream] = list
    }

    func connect(
        _ instance: UpstreamInstance, connectTimeout: TimeAmount, idleTimeout: TimeAmount
    ) -> EventLoopFuture<UpstreamConnection> {
        let upstream = instance.upstream
        let tls = upstream.scheme == "https" ? self.tls : nil
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        let isIP = (try? SocketAddress(ipAddress: upstream.host, port: 0)) != nil
                        let sslHandler = try NIOSSLClientHandler(context: tls, serverHostname: isIP ? nil : upstream.host)
                        try sync.addHandler(sslHandler)
                    }
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                    try sync.addHandler(UpstreamClientHandler())
                }
            }
        return bootstrap.connect(host: upstream.host, port: upstream.port).flatMapThrowing { channel in
            let handler = try channel.pipeline.syncOperations.handler(type: UpstreamClientHandler.self)
            return UpstreamConnection(channel: channel, handler: handler, instance: instance)
        }
    }

    func closeAll() {
        for (_, list) in idle { for conn in list { conn.channel.close(promise: nil) } }
        idle = [:]
    }
}

/// The pools (and access-log batches) of every loop of the server's group, built once at start.
final class UpstreamPools: @unchecked Sendable {
    // @unchecked: the dictionary is immutable after init, and each pool is only used on its own
    // event loop (checked by `preconditionInEventLoop`).
    private let pools: [ObjectIdentifier: UpstreamPool]
    private let logBuffers: [ObjectIdentifier: AccessLogBuffer]

    init(group: EventLoopGroup, tls: NIOSSLContext?) {
        var pools: [ObjectIdentifier: UpstreamPool] = [:]
        var logBuffers: [ObjectIdentifier: AccessLogBuffer] = [:]
        for loop in group.makeIterator() {
            pools[ObjectIdentifier(loop)] = UpstreamPool(eventLoop: loop, tls: tls)
            logBuffers[ObjectIdentifier(loop)] = AccessLogBuffer(eventLoop: loop)
        }
        self.pools = pools
        self.logBuffers = logBuffers
    }

    func pool(for loop: EventLoop) -> UpstreamPool? { pools[ObjectIdentifier(loop)] }

    /// The access-log batch of `loop` (also used only on that loop).
    func logBuffer(for loop: EventLoop) -> AccessLogBuffer? { logBuffers[ObjectIdentifier(loop)] }
}
