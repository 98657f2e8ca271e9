import Foundation
import GatehouseCore
import NIOCore
import NIOPosix
import NIOSSL

/// One upstream connection and the instance it belongs to.
final class PooledUpstream {
    let channel: Channel
    let link: UpstreamLink
    let instance: UpstreamInstance

    init(channel: Channel, link: UpstreamLink, instance: UpstreamInstance) {
        self.channel = channel
        self.link = link
        self.instance = instance
    }
}

/// Keep-alive upstream connections of one event loop, by instance. Client connections on that
/// loop use them without locks or thread hops; only that loop touches the pool.
final class LinkPool {
    let eventLoop: EventLoop
    private var idle: [ObjectIdentifier: [PooledUpstream]] = [:]
    private let maxIdlePerInstance = 128
    private let tls: NIOSSLContext?

    init(eventLoop: EventLoop, tls: NIOSSLContext?) {
        self.eventLoop = eventLoop
        self.tls = tls
    }

    /// A live idle connection to `instance`, if the pool has one (newest first: warm sockets).
    func checkout(_ instance: UpstreamInstance) -> PooledUpstream? {
        let key = ObjectIdentifier(instance)
        while let conn = idle[key]?.popLast() {
            if conn.link.isReusable { return conn }
            conn.channel.close(promise: nil)
        }
        return nil
    }

    /// Back into the pool when it can carry another request, else closed.
    func checkin(_ conn: PooledUpstream) {
        conn.link.delegate = nil
        conn.link.retainedDelegate = nil
        // An idle pooled connection keeps reading: it must notice a close (or stray bytes).
        conn.link.resumeReading()
        guard conn.link.isReusable else {
            conn.channel.close(promise: nil)
            return
        }
        let key = ObjectIdentifier(conn.instance)
        var list = idle.removeValue(forKey: key) ?? []
        if list.count >= maxIdlePerInstance {
            list.removeAll { !$0.link.isReusable }
        }
        if list.count >= maxIdlePerInstance {
            conn.channel.close(promise: nil)
        } else {
            list.append(conn)
        }
        idle[key] = list
    }

    func connect(_ instance: UpstreamInstance, connectTimeout: TimeAmount, idleTimeout: TimeAmount, maxHeadBytes: Int)
        -> EventLoopFuture<PooledUpstream>
    {
        let upstream = instance.upstream
        let tls: NIOSSLContext?
        do {
            tls = try tlsContext(for: upstream)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        // SNI and the name checked: `server_name`, else the URL's host (an IP
                        // address is checked against the certificate's IP entries, with no SNI).
                        let isIP = (try? SocketAddress(ipAddress: upstream.host, port: 0)) != nil
                        let name = upstream.serverName ?? (isIP ? nil : upstream.host)
                        try sync.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: name))
                    }
                    try sync.addHandler(UpstreamLink(idleTimeout: idleTimeout, maxHeadBytes: maxHeadBytes))
                }
            }
        return bootstrap.connect(host: upstream.host, port: upstream.port).flatMapThrowing { channel in
            let link = try channel.pipeline.syncOperations.handler(type: UpstreamLink.self)
            return PooledUpstream(channel: channel, link: link, instance: instance)
        }
    }

    /// TLS contexts for upstreams with a `ca_file`, by path, with the file's modification time
    /// they were built from (a replaced CA file is read again at the next new connection).
    private var caContexts: [String: (modified: Date?, context: NIOSSLContext)] = [:]

    /// The client TLS context for `upstream`: nil for http, the system trust store by default,
    /// or the upstream's own CA file.
    func tlsContext(for upstream: Upstream) throws -> NIOSSLContext? {
        guard upstream.scheme == "https" else { return nil }
        guard let caFile = upstream.caFile else { return tls }
        let modified = (try? FileManager.default.attributesOfItem(atPath: caFile))?[.modificationDate] as? Date
        if let cached = caContexts[caFile], cached.modified == modified { return cached.context }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        let context = try NIOSSLContext(configuration: configuration)
        caContexts[caFile] = (modified, context)
        return context
    }

    func closeAll() {
        for (_, list) in idle { for conn in list { conn.channel.close(promise: nil) } }
        idle = [:]
    }
}
