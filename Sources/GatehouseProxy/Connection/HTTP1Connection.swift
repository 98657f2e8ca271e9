import GatehouseCore
import NIOCore

/// One HTTP/1.1 client connection, at byte level: the only handler of its pipeline (after TLS,
/// if any). It parses request heads in place, decodes bodies by their framing, feeds the
/// current `ProxyExchange`, and writes what the exchange answers. One timer per connection
/// closes it when idle (re-armed from a timestamp, not per write).
final class HTTP1Connection: ChannelDuplexHandler, ExchangeClient {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let loop: LoopContext
    private let scheme: String
    private var machine = HTTP1ConnectionStateMachine()
    private var parser: RequestHeadParser
    private var inbound = ByteBuffer()
    private var exchange: ProxyExchange?
    private var body = BodyReader.none
    private var context: ChannelHandlerContext?
    private var clientIP: String?
    /// Whether the response being written is chunked (its body writes get chunk framing).
    private var responseChunked = false
    private var upstreamBlocked = false
    private var readPending = false
    private var processing = false
    private(set) var inReadBatch = false
    private var processAgain = false

    private let idleTimeout: TimeAmount
    private var lastActivity = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    /// Pipelined bytes held while a request is served before reading stops.
    private static let maxHeldBytes = 64 * 1024

    /// Closing while the client may still be sending (a refused body, a broken head): after the
    /// answer, Gatehouse shuts its side and reads and drops what still comes, for at most this
    /// long, before it closes (RFC 9112 9.6). Closing at once would make the kernel answer
    /// those bytes with a reset, and a client still writing its body would see the reset
    /// instead of the answer.
    static let lingerTime: TimeAmount = .seconds(2)
    /// Reading and dropping until the client's end, or `lingerTime`.
    private var lingering = false
    /// The request was cut short (a head or body that could not be parsed): bytes may follow.
    private var requestCutShort = false
    /// A close asked for while a read is being processed: done once that read is (the buffers
    /// it is using are what decides whether to linger).
    private var closePending = false

    init(loop: LoopContext, scheme: String) {
        self.loop = loop
        self.scheme = scheme
        let limits = loop.currentConfig().snapshot.settings.limits
        self.parser = RequestHeadParser(maxHeadBytes: limits.maxHeaderBytes)
        self.idleTimeout = .milliseconds(Int64(max(limits.upstreamIdleTimeoutSeconds, 1) * 1000))
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientIP = context.channel.remoteAddress?.ipAddress
        armIdleTimer(in: idleTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if lingering { return }  // dropped: the answer is out and the connection is closing
        inReadBatch = true
        lastActivity = NIODeadline.now()
        var bytes = unwrapInboundIn(data)
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeBuffer(&bytes)
        }
        process()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadBatch = false
        exchange?.requestReadComplete()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if shouldRead {
            context.read()
        } else {
            readPending = true
        }
    }

    private var shouldRead: Bool {
        if lingering { return true }
        guard let exchange else { return machine.isIdle }
        if exchange.wantsBody { return !upstreamBlocked }
        // Reads stay armed while the exchange is served: pipelined bytes are held (up to the
        // limit) rather than the read interest dropped and re-added around every request, which
        // cost two `epoll_ctl` calls a request; a client that goes away is noticed at once.
        return inbound.readableBytes < Self.maxHeldBytes
    }

    private func resumeReadingIfWanted() {
        guard readPending, shouldRead, let context else { return }
        readPending = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        if machine.clientClosed() == .abandonExchange, let exchange {
            self.exchange = nil
            exchange.clientGone()
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            if machine.quiesce() == .close { context.close(promise: nil) } else { exchange?.closeAfter = true }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: - Reading requests

    /// Parses and feeds what the buffer holds, as far as the current state allows. Re-entrant
    /// calls (an exchange finishing synchronously) are turned into another turn of the loop.
    private func process() {
        if processing {
            processAgain = true
            return
        }
        processing = true
        defer { processing = false }
        repeat {
            processAgain = false
            step()
        } while processAgain
        if closePending, let context {
            closePending = false
            closeAfterWrites(context)
        }
        resumeReadingIfWanted()
    }

    private func step() {
        while let context, context.channel.isActive {
            if let exchange {
                guard exchange.wantsBody, !upstreamBlocked, inbound.readableBytes > 0 || body.isFinished else { return }
                var reader = body
                body = .none
                let outcome = reader.read(&inbound) { exchange.requestBody($0) }
                body = reader
                switch outcome {
                case .needMore:
                    return
                case .end:
                    exchange.requestEnd()
                case .failure(let error):
                    bodyFailed(error, exchange: exchange)
                    return
                }
                if self.exchange === exchange { return }
                continue
            }
            guard machine.isIdle, inbound.readableBytes > 0 else { return }
            switch parser.parse(inbound) {
            case .needMore:
                return
            case .failure(let error):
                headFailed(error)
                return
            case .complete(let length):
                let head = parser.take(length: length, from: &inbound)
                startExchange(head)
            }
        }
    }

    private func startExchange(_ head: RequestHead) {
        machine.requestStarted(keepAlive: Self.keepAlive(head))
        let framing: RequestFraming
        var refusal: LocalResponse?
        switch head.framing() {
        case .success(let f):
            framing = f
        case .failure(.invalid(let message)):
            framing = .none
            refusal = .error(.badRequest, "bad_request", message, reason: "bad_framing")
        case .failure(.unsupportedCoding(let message)):
            framing = .none
            refusal = .error(.notImplemented, "not_implemented", message, reason: "bad_framing")
        }
        switch framing {
        case .none: body = .none
        case .length(let n): body = .length(remaining: n)
        case .chunked: body = .chunked(ChunkedDecoder())
        }
        let exchange = ProxyExchange(
            client: self, loop: loop, head: head, framing: framing, scheme: scheme, clientIP: clientIP, isHTTP2: false)
        exchange.closeAfter = machine.closesAfterRequest
        self.exchange = exchange
        if let refusal {
            exchange.respondLocally(refusal, close: true)
            return
        }
        if case .length(let n) = framing, n > exchange.config.hot.maxRequestBodyBytes {
            exchange.respondLocally(.error(.payloadTooLarge, "body_too_large", "the request body is too large"), close: true)
            return
        }
        exchange.start()
    }

    /// HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0 closes it unless
    /// `Connection: keep-alive`.
    static func keepAlive(_ head: RequestHead) -> Bool {
        var close = false
        var keep = false
        for f in head.fields where f.kind == .connection {
            let tokens = head.connectionTokens(f)
            close = close || tokens.close
            keep = keep || tokens.keepAlive
        }
        return head.isHTTP10 ? keep && !close : !close
    }

    /// A head that cannot be parsed: answered once, then the connection closes.
    private func headFailed(_ error: HTTPParseError) {
        guard case .answerThenClose(let status) = machine.parseFailed(status: error.status), let context else { return }
        loop.runtime.logger.info("malformed request refused", metadata: ["reason": "\(error)", "status": "\(status)"])
        let code = status == 431 ? "headers_too_large" : status == 505 ? "http_version_not_supported" : "bad_request"
        let response = LocalResponse.error(.init(statusCode: status), code, "the request could not be parsed: \(error)")
        var out = context.channel.allocator.buffer(capacity: 256 + response.body.count)
        var extra: [(String, String)] = []
        for (name, value) in response.headers { extra.append((name, value)) }
        OutgoingHead(status: status, upstream: nil, extra: extra, framing: .length(response.body.count), close: true).writeHTTP1(into: &out)
        out.writeBytes(response.body)
        inbound.clear()
        requestCutShort = true
        context.write(wrapOutboundOut(out), promise: nil)
        requestClose(context)
    }

    private func requestClose(_ context: ChannelHandlerContext) {
        if processing { closePending = true } else { closeAfterWrites(context) }
    }

    /// Flushes what is written, then closes — lingering first when the client may still be
    /// sending (see `lingerTime`).
    private func closeAfterWrites(_ context: ChannelHandlerContext) {
        let linger = requestCutShort || !body.isFinished || inbound.readableBytes > 0
        let flushed = context.writeAndFlush(wrapOutboundOut(ByteBuffer()))
        guard linger else {
            flushed.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        lingering = true
        inbound.clear()
        body = .none
        flushed.assumeIsolated().whenComplete { result in
            guard case .success = result, context.channel.isActive else {
                context.close(promise: nil)
                return
            }
            // FIN after the answer; the client's own end (or the deadline) closes the rest.
            let halfClosed = context.eventLoop.makePromise(of: Void.self)
            halfClosed.futureResult.assumeIsolated().whenFailure { _ in context.close(promise: nil) }
            context.close(mode: .output, promise: halfClosed)
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTime) {
                if context.channel.isActive { context.close(promise: nil) }
            }
            if self.readPending {
                self.readPending = false
                context.read()
            }
        }
    }

    /// A body that cannot be decoded: a 400 if nothing was answered yet, and the connection ends.
    private func bodyFailed(_ error: HTTPParseError, exchange: ProxyExchange) {
        inbound.clear()
        body = .none
        requestCutShort = true
        if exchange.responseHeadSent {
            exchange.abortClient(reason: "bad_body")
            return
        }
        exchange.respondLocally(.error(.badRequest, "bad_request", "the request body could not be parsed: \(error)"), close: true, reason: "bad_framing")
    }

    // MARK: - ExchangeClient

    func writeHead(_ head: OutgoingHead, body: ByteBuffer?) {
        guard let context else { return }
        responseChunked = head.framing == .chunked
        var out = context.channel.allocator.buffer(capacity: 512 + (body?.readableBytes ?? 0))
        head.writeHTTP1(into: &out)
        if var body {
            out.writeBuffer(&body)
        }
        context.write(wrapOutboundOut(out), promise: nil)
    }

    func writeBody(_ data: ByteBuffer) {
        guard let context, data.readableBytes > 0 else { return }
        if responseChunked {
            var line = context.channel.allocator.buffer(capacity: 20)
            line.writeHex(data.readableBytes)
            line.writeCRLF()
            context.write(wrapOutboundOut(line), promise: nil)
            context.write(wrapOutboundOut(data), promise: nil)
            context.write(wrapOutboundOut(ProxyExchange.crlf), promise: nil)
        } else {
            context.write(wrapOutboundOut(data), promise: nil)
        }
    }

    func writeEnd() {
        guard let context else { return }
        if responseChunked {
            responseChunked = false
            context.write(wrapOutboundOut(ProxyExchange.lastChunk), promise: nil)
        }
        context.flush()
    }

    func flush() { context?.flush() }

    var isWritable: Bool { context?.channel.isWritable ?? false }

    func bodyWanted() {
        process()
    }

    func upstreamWritable(_ writable: Bool) {
        upstreamBlocked = !writable
        if writable { process() }
    }

    func sendContinue() {
        guard let context else { return }
        var out = context.channel.allocator.buffer(capacity: 32)
        out.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    func switchedProtocols() {
        body = .untilClose
        process()
    }

    func exchangeFinished(close: Bool) {
        guard let context else { return }
        if var head = exchange?.head { parser.recycle(&head) }
        exchange = nil
        lastActivity = NIODeadline.now()
        switch machine.requestFinished(close: close) {
        case .closeAfterWrites:
            requestClose(context)
        case .readNextRequest:
            process()
        default:
            break
        }
    }

    func abort() {
        exchange = nil
        _ = machine.clientClosed()
        context?.close(promise: nil)
    }

    func isServing(_ exchange: ProxyExchange) -> Bool { self.exchange === exchange && context != nil }

    // MARK: - Idle timer

    private func armIdleTimer(in delay: TimeAmount) {
        guard let context else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
            guard let self, let context = self.context else { return }
            let idle = NIODeadline.now() - self.lastActivity
            if self.exchange == nil, idle >= self.idleTimeout {
                if self.machine.idleTimeout() == .close { context.close(promise: nil) }
                return
            }
            // Busy (a request in progress is never idle), or traffic since: look again later.
            self.armIdleTimer(in: self.exchange == nil ? self.idleTimeout - idle : self.idleTimeout)
        }
    }
}
