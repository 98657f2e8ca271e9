import GatehouseCore
import NIOCore
import NIOHPACK
import NIOHTTP2

/// One HTTP/2 stream driving the same `ProxyExchange` as an HTTP/1.1 request. The request's
/// fields are written out as an HTTP/1.1 head and read by the same strict parser, so that every
/// rule — stripping, framing, target, Host — holds alike on both; the answer goes back as
/// HEADERS and DATA frames.
final class HTTP2Stream: ChannelDuplexHandler, ExchangeClient {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let loop: LoopContext
    private let scheme: String
    private let activity: ConnectionActivity
    private var context: ChannelHandlerContext?
    private var exchange: ProxyExchange?
    private var sawHead = false
    /// DATA that came before the exchange took body bytes.
    private var queued: [ByteBuffer] = []
    private var queuedEnd = false
    private var requestDone = false
    private var upstreamBlocked = false
    private var readPending = false
    private var counted = false
    /// Streams forward after the connection's read (rapid reset): never inside one.
    var inReadBatch: Bool { false }

    init(loop: LoopContext, scheme: String, activity: ConnectionActivity) {
        self.loop = loop
        self.scheme = scheme
        self.activity = activity
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        setCounted(false)
    }

    private func setCounted(_ on: Bool) {
        guard on != counted else { return }
        counted = on
        activity.inFlight += on ? 1 : -1
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            if !sawHead {
                sawHead = true
                start(headers.headers, endStream: headers.endStream, context: context)
            } else if headers.endStream {
                // Trailers: dropped, like HTTP/1.1 request trailers; they end the request.
                bodyEnded()
            }
        case .data(let payload):
            guard case .byteBuffer(let buffer) = payload.data else { return }
            if buffer.readableBytes > 0 { bodyReceived(buffer) }
            if payload.endStream { bodyEnded() }
        default:
            break
        }
    }

    private func start(_ fields: HPACKHeaders, endStream: Bool, context: ChannelHandlerContext) {
        setCounted(true)
        requestDone = endStream
        let clientIP = context.channel.parent?.remoteAddress?.ipAddress
        guard let bytes = Self.http1Head(fields, endStream: endStream, allocator: context.channel.allocator) else {
            refuseStream(context: context)
            return
        }
        var parser = RequestHeadParser(maxHeadBytes: max(loop.currentConfig().snapshot.settings.limits.maxHeaderBytes, 4096) + 1024)
        var buffer = bytes
        guard case .complete(let length) = parser.parse(buffer) else {
            refuseStream(context: context)
            return
        }
        let head = parser.take(length: length, from: &buffer)
        var refusal: LocalResponse?
        let framing: RequestFraming
        switch head.framing() {
        case .success(let f): framing = f
        case .failure:
            framing = .none
            refusal = .error(.badRequest, "bad_request", "invalid framing", reason: "bad_framing")
        }
        let exchange = ProxyExchange(
            client: self, loop: loop, head: head, framing: framing, scheme: scheme, clientIP: clientIP, isHTTP2: true)
        self.exchange = exchange
        if endStream { exchange.requestEnded = true }
        if let refusal {
            exchange.respondLocally(refusal, close: true)
            return
        }
        if let authority = fields.first(name: ":authority"), fields["host"].contains(where: { $0.lowercased() != authority.lowercased() }) {
            // RFC 9113 8.3.1: `:authority` and `host` must name the same authority.
            exchange.respondLocally(.error(.badRequest, "bad_request", ":authority and host disagree"), close: true, reason: "bad_host")
            return
        }
        exchange.start()
    }

    /// The request's fields as an HTTP/1.1 head, or nil for a request that has no HTTP/1.1
    /// form (CONNECT, a missing pseudo-header, a field with bytes HTTP/1.1 cannot carry).
    static func http1Head(_ fields: HPACKHeaders, endStream: Bool, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard let method = fields.first(name: ":method"), method != "CONNECT", let path = fields.first(name: ":path"),
            fields.first(name: ":scheme") != nil
        else { return nil }
        var out = allocator.buffer(capacity: 512)
        out.writeString(method)
        out.writeInteger(UInt8(ascii: " "))
        out.writeString(path)
        out.writeStaticString(" HTTP/1.1\r\n")
        let hosts = fields["host"]
        if let authority = fields.first(name: ":authority") {
            out.writeStaticString("host: ")
            out.writeString(authority)
            out.writeCRLF()
        } else if hosts.isEmpty {
            return nil
        }
        var cookies: [String] = []
        var hasLength = false
        for field in fields {
            let name = field.name
            if name.hasPrefix(":") { continue }
            switch name {
            case "host":
                // Checked against :authority by the caller; :authority is the one written.
                if fields.first(name: ":authority") != nil { continue }
            case "cookie":
                cookies.append(field.value)
                continue
            case "content-length":
                hasLength = true
            case "te":
                continue
            default:
                break
            }
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(field.value)
            out.writeCRLF()
        }
        if !cookies.isEmpty {
            // RFC 9113 8.2.3: cookie fields are joined with "; " for HTTP/1.1.
            out.writeStaticString("cookie: ")
            out.writeString(cookies.joined(separator: "; "))
            out.writeCRLF()
        }
        if !endStream && !hasLength { out.writeStaticString("transfer-encoding: chunked\r\n") }
        out.writeCRLF()
        return out
    }

    private func refuseStream(context: ChannelHandlerContext) {
        setCounted(false)
        context.writeAndFlush(wrapOutboundOut(.rstStream(.protocolError)), promise: nil)
        context.close(promise: nil)
    }

    private func bodyReceived(_ data: ByteBuffer) {
        guard !requestDone else { return }
        if let exchange, exchange.wantsBody, queued.isEmpty {
            exchange.requestBody(data)
        } else {
            queued.append(data)
        }
    }

    private func bodyEnded() {
        guard !requestDone || !queued.isEmpty || !queuedEnd else { return }
        requestDone = true
        if let exchange, exchange.wantsBody, queued.isEmpty {
            exchange.requestEnd()
        } else {
            queuedEnd = true
        }
    }

    private func drainQueue() {
        guard let exchange else { return }
        while exchange.wantsBody, !upstreamBlocked, !queued.isEmpty {
            exchange.requestBody(queued.removeFirst())
        }
        if queued.isEmpty, queuedEnd, exchange.wantsBody {
            queuedEnd = false
            exchange.requestEnd()
        }
        resumeReadingIfWanted()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.requestReadComplete()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if queued.count < 16, !upstreamBlocked {
            context.read()
        } else {
            readPending = true
        }
    }

    private func resumeReadingIfWanted() {
        guard readPending, queued.count < 16, !upstreamBlocked, let context else { return }
        readPending = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let exchange {
            self.exchange = nil
            exchange.clientGone()
        }
        setCounted(false)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    // MARK: - ExchangeClient

    func writeHead(_ head: OutgoingHead, body: ByteBuffer?) {
        guard let context else { return }
        var fields = HPACKHeaders()
        fields.reserveCapacity(16)
        fields.add(name: ":status", value: String(head.status))
        if let upstream = head.upstream {
            for f in upstream.fields where !f.dropped {
                let name = upstream.name(f).lowercased()
                // Connection-specific fields do not exist in HTTP/2 (RFC 9113 8.2.2).
                if name == "connection" || name == "keep-alive" || name == "proxy-connection" || name == "transfer-encoding"
                    || name == "upgrade"
                {
                    continue
                }
                fields.add(name: name, value: upstream.value(f))
            }
        }
        for (name, value) in head.extra {
            let lower = name.lowercased()
            if lower == "connection" || lower == "transfer-encoding" { continue }
            fields.add(name: lower, value: value)
        }
        if let id = head.requestID { fields.add(name: "x-request-id", value: id.string) }
        if case .length(let n) = head.framing { fields.add(name: "content-length", value: String(n)) }
        context.write(wrapOutboundOut(.headers(.init(headers: fields))), promise: nil)
        if let body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(body)))), promise: nil)
        }
    }

    func writeBody(_ data: ByteBuffer) {
        guard let context, data.readableBytes > 0 else { return }
        context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(data)))), promise: nil)
    }

    func writeEnd() {
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))), promise: nil)
    }

    func flush() { context?.flush() }

    var isWritable: Bool { context?.channel.isWritable ?? false }

    func bodyWanted() { drainQueue() }

    func upstreamWritable(_ writable: Bool) {
        upstreamBlocked = !writable
        if writable { drainQueue() }
    }

    func sendContinue() {
        guard let context else { return }
        var fields = HPACKHeaders()
        fields.add(name: ":status", value: "100")
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: fields))), promise: nil)
    }

    /// Never asked: an HTTP/2 request carries no `Upgrade` (it is a stream error).
    func switchedProtocols() {}

    func exchangeFinished(close: Bool) {
        exchange = nil
        setCounted(false)
        if !requestDone {
            // The answer is complete but the client is still sending: end the stream.
            context?.close(promise: nil)
        }
    }

    func abort() {
        exchange = nil
        setCounted(false)
        context?.close(promise: nil)
    }

    func isServing(_ exchange: ProxyExchange) -> Bool { self.exchange === exchange && context != nil }
}
