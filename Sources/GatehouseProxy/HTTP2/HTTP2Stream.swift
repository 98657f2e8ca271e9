import CNGHTTP2
import GatehouseCore
import NIOCore

/// One HTTP/2 stream as the client side of a `ProxyExchange`: the request head built from the
/// stream's decoded fields (`HTTP2RequestHeadBuilder`), body bytes handed over as nghttp2 reads
/// them (acknowledged to the client only once taken: backpressure), and the answer queued for
/// nghttp2 to frame as HEADERS and DATA. Not a channel handler: the connection's one handler
/// (`HTTP2Connection`) owns every stream of its connection.
final class HTTP2Stream: ExchangeClient {
    enum State {
        /// The header block is being decoded (into `builder`).
        case receivingHead
        /// The head is complete; the exchange starts when the connection's read is over (a
        /// stream reset in the same read never reaches an upstream: rapid reset).
        case ready
        case running
        /// The exchange (or a refusal) is over; body bytes still coming are dropped.
        case finished
    }

    let id: Int32
    /// Strong: a stream lives only while its connection holds it (`HTTP2Connection.streams`,
    /// emptied when a stream or the connection closes), so there is no lasting cycle — and no
    /// `unowned` check on every call into the connection.
    private let connection: HTTP2Connection
    private(set) var state = State.receivingHead
    /// The request's fields as they are decoded (a stored property of its own, mutated in place).
    private var builder: HTTP2RequestHeadBuilder?
    private var headEndedStream = false
    private var exchange: ProxyExchange?
    /// Extended CONNECT: the upstream's `101` becomes `200`, then DATA both ways.
    private var isWebSocket = false

    // Request body not yet taken by the exchange (and not yet acknowledged to the client).
    private var queued: [ByteBuffer] = []
    private var queuedEnd = false
    private(set) var requestDone = false
    private var upstreamBlocked = false

    // Response.
    private var outgoing: [ByteBuffer] = []
    /// Bytes of `outgoing[0]` already given to nghttp2.
    private var outgoingOffset = 0
    private var outgoingBytes = 0
    private var responseEnded = false
    /// nghttp2 found no DATA ready and waits for `resumeData`.
    private var deferred = false
    private var submitted = false
    /// The last DATA (or a HEADERS ending the stream) was framed.
    private(set) var endSent = false
    /// The client is still sending but the answer is complete: RST_STREAM(NO_ERROR) after it.
    private(set) var resetAfterEnd = false
    var resetSubmitted = false
    /// The answer is out and the client is still sending: time for RST_STREAM(NO_ERROR).
    var needsReset: Bool { resetAfterEnd && endSent && !closed && !resetSubmitted }
    /// Told the exchange it cannot write: tell it again when the queue drains.
    private var reportedFull = false
    private(set) var closed = false

    /// Response bytes a stream holds before its exchange stops reading the upstream.
    static let highWater = 256 * 1024

    init(id: Int32, connection: HTTP2Connection, builder: HTTP2RequestHeadBuilder) {
        self.id = id
        self.connection = connection
        self.builder = builder
    }

    // MARK: - From the connection (nghttp2 callbacks)

    func field(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        builder?.add(name: name, value: value)
    }

    func headComplete(endStream: Bool) {
        guard case .receivingHead = state else { return }
        state = .ready
        headEndedStream = endStream
        requestDone = endStream
    }

    /// Starts the exchange (after the read the head came in).
    func start(loop: LoopContext, scheme: String, clientIP: String?) {
        guard case .ready = state, var builder else { return }
        self.builder = nil
        state = .running
        switch builder.build(endStream: headEndedStream) {
        case .failure(.tooLarge):
            refuse(.requestHeaderFieldsTooLarge, "headers_too_large", "the request's header fields are too large")
        case .failure(.malformed(let message)):
            refuse(.badRequest, "bad_request", message)
        case .success(let built):
            isWebSocket = built.isWebSocket
            let exchange = ProxyExchange(
                client: self, loop: loop, head: built.head, framing: built.framing, scheme: scheme, clientIP: clientIP, isHTTP2: true)
            self.exchange = exchange
            if isWebSocket { exchange.upgrade = .websocket }
            if case .length(let n) = built.framing, n > exchange.config.hot.maxRequestBodyBytes {
                exchange.respondLocally(.error(.payloadTooLarge, "body_too_large", "the request body is too large"), close: true)
                return
            }
            exchange.start()
        }
    }

    /// A request refused before it became an exchange (no access line: like an HTTP/1.1 head
    /// that cannot be parsed).
    private func refuse(_ status: ResponseStatus, _ code: String, _ message: String) {
        connection.logRefusal(status: Int(status.code), message)
        let response = LocalResponse.error(status, code, message)
        var body = ByteBufferAllocator().buffer(capacity: response.body.count)
        body.writeBytes(response.body)
        var extra: [(String, String)] = []
        for (name, value) in response.headers where name.lowercased() != "content-length" { extra.append((name, value)) }
        writeHead(OutgoingHead(status: Int(status.code), upstream: nil, extra: extra, framing: .length(response.body.count), close: true), body: body)
        writeEnd()
        state = .finished
        if !requestDone { resetAfterEnd = true }
    }

    /// Request body bytes (a slice of the read buffer).
    func received(_ data: ByteBuffer) {
        switch state {
        case .running:
            if let exchange, queued.isEmpty, !upstreamBlocked, exchange.wantsBody {
                exchange.requestBody(data)
                connection.consume(id, data.readableBytes)
                return
            }
            if exchange == nil {
                connection.consume(id, data.readableBytes)
                return
            }
            queued.append(data)
        case .receivingHead, .ready:
            queued.append(data)
        case .finished:
            connection.consume(id, data.readableBytes)
        }
    }

    func ended() {
        requestDone = true
        if case .running = state, let exchange, queued.isEmpty, exchange.wantsBody {
            exchange.requestEnd()
        } else {
            queuedEnd = true
        }
    }

    /// Hands queued body bytes to the exchange as far as it takes them.
    private func drainQueue() {
        guard let exchange else { return }
        var taken = 0
        while exchange.wantsBody, !upstreamBlocked, !queued.isEmpty {
            let data = queued.removeFirst()
            taken += data.readableBytes
            exchange.requestBody(data)
        }
        if taken > 0 { connection.consume(id, taken) }
        if queued.isEmpty, queuedEnd, exchange.wantsBody {
            queuedEnd = false
            exchange.requestEnd()
        }
        if !connection.inReadBatch { exchange.requestReadComplete() }
        connection.sendSoon()
    }

    /// The read is over: what the exchange wrote upstream goes out.
    func readComplete() { exchange?.requestReadComplete() }

    /// The stream closed (answered and ended, or reset by either side).
    func streamClosed() {
        // Closed because both sides ended (the answer's last frame just went out while the
        // exchange was writing it): the exchange finishes by itself. Anything else is the
        // client going away.
        let completed = endSent && requestDone && queued.isEmpty && !queuedEnd
        closed = true
        state = .finished
        builder = nil
        queued.removeAll()
        outgoing.removeAll()
        outgoingBytes = 0
        if completed { return }
        if let exchange {
            self.exchange = nil
            exchange.clientGone()
        }
    }

    /// DATA for nghttp2: up to `buffer.count` bytes of what is queued.
    func body(into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, end: Bool)? {
        var count = 0
        var taken = 0
        while count < buffer.count, taken < outgoing.count {
            let part = outgoing[taken]
            let n = min(part.readableBytes - outgoingOffset, buffer.count - count)
            part.withUnsafeReadableBytes { p in
                UnsafeMutableRawBufferPointer(rebasing: buffer[count..<(count + n)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: p[outgoingOffset..<(outgoingOffset + n)]))
            }
            count += n
            outgoingOffset += n
            if outgoingOffset == part.readableBytes {
                taken += 1
                outgoingOffset = 0
            }
        }
        if taken > 0 { outgoing.removeFirst(taken) }
        outgoingBytes -= count
        if reportedFull, outgoingBytes < Self.highWater / 2 { connection.becameWritable(self) }
        let end = responseEnded && outgoing.isEmpty
        if end { endSent = true }
        if count == 0 && !end {
            deferred = true
            return nil
        }
        return (count, end)
    }

    /// Writable again after `reportedFull` (called by the connection after a send).
    func notifyWritable() {
        guard reportedFull, isWritable else { return }
        reportedFull = false
        exchange?.clientBecameWritable()
    }

    // MARK: - ExchangeClient

    var inReadBatch: Bool { connection.inReadBatch }

    func writeHead(_ head: OutgoingHead, body: ByteBuffer?) {
        guard !closed, !submitted else { return }
        submitted = true
        var status = head.status
        if isWebSocket && status == 101 {
            // RFC 8441 5: the tunnel is accepted with a 2xx; the HTTP/1.1 handshake's fields stay behind.
            status = 200
        }
        var fields = connection.takeFieldList()
        fields.add(":status", decimal: status)
        if let upstream = head.upstream {
            // Connection-specific fields (RFC 9113 8.2.2) are hop-by-hop: already marked dropped.
            upstream.withBytes { p in
                for f in upstream.fields where !f.dropped {
                    let name = UnsafeRawBufferPointer(rebasing: p[Int(f.nameStart)..<Int(f.nameEnd)])
                    if isWebSocket, FieldKind.matches(name, "sec-websocket-accept") { continue }
                    fields.add(name: name, value: UnsafeRawBufferPointer(rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)]))
                }
            }
        }
        for (name, value) in head.extra {
            let lower = name.lowercased()
            if lower == "connection" || lower == "transfer-encoding" || lower == "upgrade" { continue }
            fields.add(lower, value)
        }
        if let id = head.requestID { fields.add("x-request-id", requestID: id) }
        if case .length(let n) = head.framing { fields.add("content-length", decimal: n) }
        let hasBody: Bool
        if case .none = head.framing, !(isWebSocket && status == 200) { hasBody = false } else { hasBody = true }
        if let body, body.readableBytes > 0, hasBody {
            outgoing.append(body)
            outgoingBytes += body.readableBytes
        }
        if !hasBody {
            responseEnded = true
            endSent = true
        }
        let submittedOK = connection.submitResponse(id, fields: &fields, hasBody: hasBody)
        connection.returnFieldList(fields)
        if !submittedOK { abort() }
    }

    func writeBody(_ data: ByteBuffer) {
        guard !closed, data.readableBytes > 0, !endSent else { return }
        outgoing.append(data)
        outgoingBytes += data.readableBytes
        resumeIfDeferred()
    }

    func writeEnd() {
        guard !closed, !responseEnded else {
            connection.sendSoon()
            return
        }
        responseEnded = true
        resumeIfDeferred()
        connection.sendSoon()
    }

    private func resumeIfDeferred() {
        guard deferred else { return }
        deferred = false
        connection.resumeData(id)
    }

    func flush() { connection.sendSoon() }

    var isWritable: Bool {
        let writable = !closed && outgoingBytes < Self.highWater && connection.isWritable
        if !writable { reportedFull = true }
        return writable
    }

    func bodyWanted() { drainQueue() }

    func upstreamWritable(_ writable: Bool) {
        upstreamBlocked = !writable
        if writable { drainQueue() }
    }

    func sendContinue() {
        guard !closed, !submitted else { return }
        var fields = HTTP2FieldList(capacity: 16)
        fields.add(":status", "100")
        connection.submitInformational(id, fields: &fields)
        connection.sendSoon()
    }

    /// The upstream accepted the WebSocket handshake: client DATA from now on is tunnel bytes.
    func switchedProtocols() {
        drainQueue()
    }

    func exchangeFinished(close: Bool) {
        exchange = nil
        state = .finished
        if !requestDone {
            // Answered while the client is still sending: the stream is reset once the answer
            // is out (RFC 9113 8.1), and body bytes already queued are dropped (and acknowledged).
            resetAfterEnd = true
            let dropped = queued.reduce(0) { $0 + $1.readableBytes }
            queued.removeAll()
            if dropped > 0 { connection.consume(id, dropped) }
        }
        connection.sendSoon()
    }

    func abort() {
        exchange = nil
        state = .finished
        guard !closed else { return }
        connection.reset(id, code: NGHTTP2_INTERNAL_ERROR)
    }

    func isServing(_ exchange: ProxyExchange) -> Bool { self.exchange === exchange && !closed }
}
