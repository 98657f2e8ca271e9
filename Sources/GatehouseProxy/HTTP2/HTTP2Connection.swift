import CNGHTTP2
import GatehouseCore
import NIOCore

/// One HTTP/2 client connection: the only handler of its pipeline (after TLS, if any), driving a
/// libnghttp2 session with the connection's bytes (docs/http.md "HTTP/2"). Streams are plain
/// objects (`HTTP2Stream`), not child channels; each drives a `ProxyExchange` exactly like an
/// HTTP/1.1 request. What nghttp2 has to send goes out once per read, and whenever an exchange
/// flushes.
///
/// Abuse ends the connection: nghttp2's own limits (CONTINUATION and control-frame floods, reset
/// rate) and Gatehouse's (a client whose frames keep being refused); a connection with no stream
/// in progress is closed after the idle timeout; at shutdown it drains with GOAWAY.
final class HTTP2Connection: ChannelDuplexHandler, HTTP2SessionDelegate {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let loop: LoopContext
    private let scheme: String
    private var session: HTTP2Session!
    private var context: ChannelHandlerContext?
    private var clientIP: String?
    private var streams: [Int32: HTTP2Stream] = [:]
    /// The stream whose header block is being decoded (HEADERS and CONTINUATION are contiguous).
    private var headStream: HTTP2Stream?
    /// Heads completed during the current read, started when it is over.
    private var ready: [HTTP2Stream] = []
    /// Streams whose body bytes were taken during the current read (their upstream is flushed after it).
    private var touched: [HTTP2Stream] = []
    /// Streams whose response queue drained below its mark during a send.
    private var drained: [HTTP2Stream] = []
    /// The bytes being given to nghttp2 (DATA payloads are slices of them).
    private var receiving: ByteBuffer?
    private(set) var inReadBatch = false
    private var sending = false
    private var closing = false
    /// Frames nghttp2 refused as stream errors; past the limit the client is cut off.
    private var invalidFrames = 0
    static let maxInvalidFrames = 32

    private enum Drain {
        case none
        /// GOAWAY(max) and a PING sent: the final GOAWAY follows the PING's answer.
        case noticed
        /// The final GOAWAY is sent: the connection ends with its last stream.
        case finalGoAway
    }

    private var drain = Drain.none
    private let idleTimeout: TimeAmount
    private var lastActivity = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?

    init(loop: LoopContext, scheme: String) {
        self.loop = loop
        self.scheme = scheme
        let limits = loop.currentConfig().snapshot.settings.limits
        self.idleTimeout = .milliseconds(Int64(max(limits.upstreamIdleTimeoutSeconds, 1) * 1000))
    }

    private var maxHeaderListBytes: Int { max(loop.currentConfig().snapshot.settings.limits.maxHeaderBytes, 4096) }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientIP = context.channel.remoteAddress?.ipAddress
        var limits = HTTP2Session.Limits()
        limits.maxHeaderListBytes = UInt32(maxHeaderListBytes)
        session = HTTP2Session(delegate: self, limits: limits)
        armIdleTimer(in: idleTimeout)
        if context.channel.isActive { send() }
    }

    func channelActive(context: ChannelHandlerContext) {
        send()
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        self.context = nil
        closeAllStreams()
    }

    /// Every stream ends with the connection (and lets go of it: streams hold their connection).
    private func closeAllStreams() {
        let open = streams.values
        streams.removeAll()
        headStream = nil
        ready.removeAll()
        touched.removeAll()
        drained.removeAll()
        for stream in open { stream.streamClosed() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        inReadBatch = true
        lastActivity = NIODeadline.now()
        let bytes = unwrapInboundIn(data)
        receiving = bytes
        let result = bytes.withUnsafeReadableBytes { session.receive($0) }
        receiving = nil
        if result < 0 { connectionFailed(Int32(result)) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        defer { inReadBatch = false }
        guard !closing else { return }
        // Streams opened in this read start now: one reset in the same read never went anywhere.
        if !ready.isEmpty {
            let starting = ready
            ready.removeAll(keepingCapacity: true)
            for stream in starting where !stream.closed {
                stream.start(loop: loop, scheme: scheme, clientIP: clientIP)
                touched.append(stream)
            }
        }
        inReadBatch = false
        if !touched.isEmpty {
            let flushed = touched
            touched.removeAll(keepingCapacity: true)
            for stream in flushed { stream.readComplete() }
        }
        send()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            send()
            for stream in streams.values { stream.notifyWritable() }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        closing = true
        closeAllStreams()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            startDrain()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: - HTTP2SessionDelegate (inside `receive`)

    func streamBegan(_ id: Int32) {
        let builder = HTTP2RequestHeadBuilder(maxListBytes: maxHeaderListBytes, allocator: context?.channel.allocator ?? ByteBufferAllocator())
        let stream = HTTP2Stream(id: id, connection: self, builder: builder)
        streams[id] = stream
        headStream = stream
    }

    func streamField(_ id: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard let stream = headStream, stream.id == id else { return }
        stream.field(name: name, value: value)
    }

    func streamHeadComplete(_ id: Int32, endStream: Bool) {
        guard let stream = headStream, stream.id == id else { return }
        headStream = nil
        stream.headComplete(endStream: endStream)
        ready.append(stream)
    }

    func streamData(_ id: Int32, _ data: UnsafeRawBufferPointer) {
        guard let stream = streams[id] else { return }
        stream.received(slice(data))
        touched.append(stream)
    }

    /// DATA points into the bytes being read: a slice of them, not a copy.
    private func slice(_ data: UnsafeRawBufferPointer) -> ByteBuffer {
        if let receiving, let base = data.baseAddress {
            let offset = receiving.withUnsafeReadableBytes { p in p.baseAddress.map { base - $0 } }
            if let offset, offset >= 0, offset + data.count <= receiving.readableBytes,
                let slice = receiving.getSlice(at: receiving.readerIndex + offset, length: data.count)
            {
                return slice
            }
        }
        var copy = (context?.channel.allocator ?? ByteBufferAllocator()).buffer(capacity: data.count)
        copy.writeBytes(data)
        return copy
    }

    func streamEnded(_ id: Int32) {
        streams[id]?.ended()
    }

    func streamClosed(_ id: Int32, errorCode: UInt32) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        if headStream === stream { headStream = nil }
        stream.streamClosed()
        if drain == .finalGoAway, streams.isEmpty { sendSoon() }
    }

    func streamBody(_ id: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, end: Bool)? {
        // A stream Gatehouse no longer knows has nothing more to send.
        guard let stream = streams[id] else { return (0, true) }
        return stream.body(into: buffer)
    }

    func pingAcknowledged() {
        guard drain == .noticed else { return }
        finalGoAway()
    }

    func invalidFrame() {
        invalidFrames += 1
        if invalidFrames == Self.maxInvalidFrames {
            loop.runtime.logger.info("HTTP/2 client cut off", metadata: ["reason": "too many refused frames"])
            session.terminate(NGHTTP2_ENHANCE_YOUR_CALM)
        }
    }

    // MARK: - For the streams

    func consume(_ id: Int32, _ count: Int) { session.consume(id, count) }

    /// The connection's one response field list, emptied (its storage is reused by every response).
    private var fieldList = HTTP2FieldList()

    func takeFieldList() -> HTTP2FieldList {
        var list = HTTP2FieldList(capacity: 0)
        swap(&list, &fieldList)
        list.removeAll()
        return list
    }

    func returnFieldList(_ list: HTTP2FieldList) { fieldList = list }

    func submitResponse(_ id: Int32, fields: inout HTTP2FieldList, hasBody: Bool) -> Bool {
        session.submitResponse(id, fields: &fields, hasBody: hasBody)
    }

    func submitInformational(_ id: Int32, fields: inout HTTP2FieldList) { session.submitInformational(id, fields: &fields) }

    func resumeData(_ id: Int32) { session.resumeData(id) }

    func reset(_ id: Int32, code: nghttp2_error_code) {
        session.resetStream(id, code: code)
        sendSoon()
    }

    func becameWritable(_ stream: HTTP2Stream) { drained.append(stream) }

    var isWritable: Bool { context?.channel.isWritable ?? false }

    func logRefusal(status: Int, _ message: String) {
        loop.runtime.logger.info("malformed HTTP/2 request refused", metadata: ["reason": "\(message)", "status": "\(status)"])
    }

    /// What nghttp2 has queued goes out at the end of the read in progress, or once the event
    /// loop has handled every event of its current turn: answers to several streams that arrive
    /// in one turn (from as many upstream connections) leave in one write.
    func sendSoon() {
        guard !inReadBatch, !sendScheduled, let context else { return }
        sendScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            sendScheduled = false
            send()
        }
    }

    private var sendScheduled = false

    // MARK: - Sending

    private func send() {
        guard let context, !sending, !closing, context.channel.isActive else { return }
        sending = true
        var out: ByteBuffer?
        while context.channel.isWritable, let bytes = session.nextOutput() {
            if out == nil { out = context.channel.allocator.buffer(capacity: max(bytes.count, 1024)) }
            out!.writeBytes(bytes)
            if out!.readableBytes >= 64 * 1024 {
                context.write(wrapOutboundOut(out!), promise: nil)
                out = nil
            }
        }
        if let out { context.write(wrapOutboundOut(out), promise: nil) }
        context.flush()
        sending = false
        afterSend(context)
    }

    private func afterSend(_ context: ChannelHandlerContext) {
        var again = false
        for stream in streams.values where stream.needsReset {
            stream.resetSubmitted = true
            session.resetStream(stream.id, code: NGHTTP2_NO_ERROR)
            again = true
        }
        if !drained.isEmpty {
            let notify = drained
            drained.removeAll()
            for stream in notify { stream.notifyWritable() }
        }
        if again {
            send()
            return
        }
        if session.isFinished || (drain == .finalGoAway && streams.isEmpty) {
            closeAfterWrites(context)
        }
    }

    private func closeAfterWrites(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// nghttp2 refused the connection's bytes: a GOAWAY says why (when there is one to say),
    /// then the connection closes.
    private func connectionFailed(_ code: Int32) {
        if code == NGHTTP2_ERR_FLOODED.rawValue {
            loop.runtime.logger.info("HTTP/2 client cut off", metadata: ["reason": "flood"])
            session.terminate(NGHTTP2_ENHANCE_YOUR_CALM)
        } else if code != NGHTTP2_ERR_BAD_CLIENT_MAGIC.rawValue {
            session.terminate(NGHTTP2_PROTOCOL_ERROR)
        }
        inReadBatch = false
        send()
        if let context { closeAfterWrites(context) }
    }

    // MARK: - Drain and idle

    private func startDrain() {
        guard drain == .none, let context else { return }
        if streams.isEmpty {
            drain = .finalGoAway
            session.goAway()
            send()
            closeAfterWrites(context)
            return
        }
        drain = .noticed
        session.shutdownNotice()
        send()
        // A client that never answers the PING still gets the final GOAWAY.
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [weak self] in
            guard let self, self.drain == .noticed else { return }
            self.finalGoAway()
        }
    }

    private func finalGoAway() {
        drain = .finalGoAway
        session.goAway()
        sendSoon()
    }

    private func armIdleTimer(in delay: TimeAmount) {
        guard let context else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
            guard let self, let context = self.context, !self.closing else { return }
            let idle = NIODeadline.now() - self.lastActivity
            if self.streams.isEmpty, idle >= self.idleTimeout {
                self.session.terminate(NGHTTP2_NO_ERROR)
                self.send()
                self.closeAfterWrites(context)
                return
            }
            // A stream in progress is never idle: only its upstream's timeout applies.
            self.armIdleTimer(in: self.streams.isEmpty ? self.idleTimeout - idle : self.idleTimeout)
        }
    }
}
