import GatehouseCore
import NIOCore
import NIOSSL
import NIOTLS

/// How a client connection's pipeline is built: one handler after TLS (if any). HTTP/1.1:
/// `HTTP1Connection`, at byte level. HTTP/2: `HTTP2Connection`, a libnghttp2 session whose
/// streams drive the same exchange logic.
///
/// - Cleartext: HTTP/1.1, or HTTP/2 with prior knowledge (h2c), told apart by the connection
///   preface (`ProtocolSniffer`). The `Upgrade: h2c` dance is not offered.
/// - TLS: ALPN `h2` or `http/1.1` (no ALPN: HTTP/1.1).
enum ProxyPipeline {
    static func configure(_ channel: Channel, loop: LoopContext, tls: NIOSSLContext?) throws {
        let sync = channel.pipeline.syncOperations
        let runtime = loop.runtime
        // Until the protocol is known (and the TLS handshake done), a connection that sends
        // nothing is closed after the idle timeout; the protocol's handlers time it from then on.
        let idle = TimeAmount.milliseconds(Int64(max(loop.currentConfig().snapshot.settings.limits.upstreamIdleTimeoutSeconds, 1) * 1000))
        try sync.addHandler(ConnectionStartTimeout(timeout: idle), name: ConnectionStartTimeout.name)
        guard let tls else {
            try sync.addHandler(ProtocolSniffer { context, isHTTP2 in
                if isHTTP2 {
                    try http2(context.channel, loop: loop, scheme: scheme(runtime, "http"))
                } else {
                    try http1(context.channel, loop: loop, scheme: scheme(runtime, "http"))
                }
            })
            return
        }
        try sync.addHandler(NIOSSLServerHandler(context: tls))
        try sync.addHandler(ApplicationProtocolNegotiationHandler { result, channel in
            channel.eventLoop.makeCompletedFuture {
                switch result {
                case .negotiated("h2"): try http2(channel, loop: loop, scheme: scheme(runtime, "https"))
                default: try http1(channel, loop: loop, scheme: scheme(runtime, "https"))
                }
            }
        })
    }

    /// The scheme clients see: `public_scheme` when set, else the listener's.
    static func scheme(_ runtime: ProxyRuntime, _ listener: String) -> String {
        runtime.config.snapshot.settings.publicScheme ?? listener
    }

    /// Added last: the sniffer (if any) is the only handler before it and leaves once it is in.
    static func http1(_ channel: Channel, loop: LoopContext, scheme: String) throws {
        ConnectionStartTimeout.remove(from: channel)
        try channel.pipeline.syncOperations.addHandler(HTTP1Connection(loop: loop, scheme: scheme))
    }

    static func http2(_ channel: Channel, loop: LoopContext, scheme: String) throws {
        ConnectionStartTimeout.remove(from: channel)
        try channel.pipeline.syncOperations.addHandler(HTTP2Connection(loop: loop, scheme: scheme))
    }

    /// The listener's TLS context: the configured certificate chain and key, TLS 1.2 or later,
    /// ALPN `h2` then `http/1.1`.
    static func tlsContext(_ tls: ListenerTLS) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: tls.keyFile, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["h2", "http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }
}

/// Reads just enough of a cleartext connection to tell HTTP/2 with prior knowledge (its
/// 24-byte preface) from HTTP/1, has the right handlers added after itself, then replays what
/// it read and leaves the pipeline.
final class ProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    private let decided: (ChannelHandlerContext, Bool) throws -> Void
    private var buffered: ByteBuffer?

    init(_ decided: @escaping (ChannelHandlerContext, Bool) throws -> Void) {
        self.decided = decided
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if var pending = buffered {
            pending.writeBuffer(&incoming)
            buffered = pending
        } else {
            buffered = incoming
        }
        guard let bytes = buffered, let verdict = Self.verdict(bytes) else { return }
        do {
            try decided(context, verdict)
        } catch {
            context.close(promise: nil)
            return
        }
        buffered = nil
        context.fireChannelRead(wrapInboundOut(bytes))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// True for the HTTP/2 preface, false as soon as the bytes differ from it, nil while they
    /// are a proper prefix of it.
    static func verdict(_ buffer: ByteBuffer) -> Bool? {
        let count = min(buffer.readableBytes, preface.count)
        guard let view = buffer.getBytes(at: buffer.readerIndex, length: count) else { return nil }
        guard view == Array(preface.prefix(count)) else { return false }
        return count == preface.count ? true : nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        buffered = nil
        context.fireChannelInactive()
    }
}

/// Closes a connection whose protocol is not known within `timeout` (nothing sent, or a TLS
/// handshake that never ends). One timer, cancelled when the protocol's handlers take over.
final class ConnectionStartTimeout: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    static let name = "gatehouse.start-timeout"

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    static func remove(from channel: Channel) {
        let sync = channel.pipeline.syncOperations
        if let context = try? sync.context(name: name) { sync.removeHandler(context: context, promise: nil) }
    }
}
