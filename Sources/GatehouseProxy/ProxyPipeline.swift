import GatehouseCore
import GatehouseHTTP
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOSSL
import NIOTLS

/// How a client connection's pipeline is built. Every request, whatever the protocol, ends up
/// in a `ProxyHandler` that sees HTTP/1-shaped parts: on HTTP/2 each stream gets its own
/// handler behind NIO's HTTP/2-to-HTTP/1 codec.
///
/// - Cleartext: HTTP/1.1, or HTTP/2 with prior knowledge (h2c), told apart by the connection
///   preface (`ProtocolSniffer`). The `Upgrade: h2c` dance is not offered.
/// - TLS: ALPN `h2` or `http/1.1` (no ALPN: HTTP/1.1).
enum ProxyPipeline {
    static func configure(_ channel: Channel, runtime: ProxyRuntime, pools: UpstreamPools, tls: NIOSSLContext?) throws {
        let sync = channel.pipeline.syncOperations
        // A client connection with no traffic either way for this long is closed (an SSE stream
        // that is sending is not idle; a silent upstream has its own idle timeout).
        let idle = TimeAmount.seconds(Int64(max(runtime.config.snapshot.settings.limits.upstreamIdleTimeoutSeconds, 1)))
        // A connection with a request in progress is not idle (`ClientIdleCloser`).
        let activity = ConnectionActivity()
        try sync.addHandlers([IdleStateHandler(allTimeout: idle), ClientIdleCloser(activity: activity)])
        guard let tls else {
            try sync.addHandler(ProtocolSniffer { context, isHTTP2 in
                if isHTTP2 {
                    try http2(context.channel, runtime: runtime, pools: pools, scheme: scheme(runtime, "http"), activity: activity)
                } else {
                    try http1(context.channel, runtime: runtime, pools: pools, scheme: scheme(runtime, "http"), activity: activity)
                }
            })
            return
        }
        try sync.addHandler(NIOSSLServerHandler(context: tls))
        try sync.addHandler(ApplicationProtocolNegotiationHandler { result, channel in
            channel.eventLoop.makeCompletedFuture {
                switch result {
                case .negotiated("h2"): try http2(channel, runtime: runtime, pools: pools, scheme: scheme(runtime, "https"), activity: activity)
                default: try http1(channel, runtime: runtime, pools: pools, scheme: scheme(runtime, "https"), activity: activity)
                }
            }
        })
    }

    /// The scheme clients see: `public_scheme` when set, else the listener's.
    static func scheme(_ runtime: ProxyRuntime, _ listener: String) -> String {
        runtime.config.snapshot.settings.publicScheme ?? listener
    }

    /// Added last: the sniffer (if any) is the only handler before them and leaves once they are in.
    static func http1(_ channel: Channel, runtime: ProxyRuntime, pools: UpstreamPools, scheme: String, activity: ConnectionActivity) throws {
        let sync = channel.pipeline.syncOperations
        try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: false)
        try sync.addHandler(ProxyHandler(runtime: runtime, pools: pools, scheme: scheme, activity: activity))
    }

    static func http2(_ channel: Channel, runtime: ProxyRuntime, pools: UpstreamPools, scheme: String, activity: ConnectionActivity) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 256),
            HTTP2Setting(parameter: .maxHeaderListSize, value: max(runtime.config.snapshot.settings.limits.maxHeaderBytes, 4096)),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
        ]
        connection.targetWindowSize = 1 << 22
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = 1 << 20
        // Before the HTTP/2 handler: it sees the frames that handler writes.
        try channel.pipeline.syncOperations.addHandler(HTTP2ConnectionErrorCloser())
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: stream
        ) { streamChannel in
            streamChannel.eventLoop.makeCompletedFuture {
                try streamChannel.pipeline.syncOperations.addHandlers([
                    HTTP2AuthorityCheck(),
                    HTTP2FramePayloadToHTTP1ServerCodec(),
                    HTTP2ResponseHeaderCleaner(),
                    ProxyHandler(runtime: runtime, pools: pools, scheme: scheme, activity: activity, isHTTP2: true),
                ])
            }
        }
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

/// HTTP/2 has no connection-specific header fields (RFC 9113 8.2.2): the data plane's HTTP/1
/// logic may set `Connection: close` or pass `Keep-Alive`; those are dropped on the way out.
final class HTTP2ResponseHeaderCleaner: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private static let forbidden = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        for name in Self.forbidden { head.headers.remove(name: name) }
        context.write(wrapOutboundOut(.head(head)), promise: promise)
    }
}
