import GatehouseCore
import NIOCore

/// Why an upstream exchange broke before its response ended.
enum UpstreamFailure: Error, CustomStringConvertible {
    /// The connection closed (or reset) before the response ended.
    case closed
    /// No byte either way for the upstream idle timeout.
    case idleTimeout
    /// The response could not be parsed, or framed itself ambiguously: the upstream's fault.
    case malformed(String)
    case io(Error)

    var description: String {
        switch self {
        case .closed: "the upstream closed the connection"
        case .idleTimeout: "the upstream was idle for too long"
        case .malformed(let why): "malformed response: \(why)"
        case .io(let error): "\(error)"
        }
    }

    /// Whether this counts against the instance's health (a malformed answer does; so does a
    /// connection that broke; a timeout is the exchange's, as before).
    var blamesInstance: Bool {
        if case .idleTimeout = self { return false }
        return true
    }
}

/// What an exchange hears from the upstream connection it is using. Both sides live on the
/// same event loop: plain calls, no hops.
protocol UpstreamLinkDelegate: AnyObject {
    func upstreamResponseHead(_ head: ResponseHead)
    func upstreamResponseBody(_ data: ByteBuffer)
    func upstreamResponseEnd()
    /// The end of one read batch from the upstream: time to flush what was relayed.
    func upstreamReadComplete()
    func upstreamWritabilityChanged(_ writable: Bool)
    func upstreamBroke(_ failure: UpstreamFailure)
    /// Whether the client can take more response bytes now (backpressure on upstream reads).
    var clientCanTakeMore: Bool { get }
}

/// The one handler of an upstream connection's pipeline: writes request bytes as given, parses
/// the response (head strictly, body by its framing) and hands it to the exchange using the
/// connection; closes the connection when it idles out or answers when nobody asked.
final class UpstreamLink: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    weak var delegate: UpstreamLinkDelegate?
    /// Keeps a delegate alive that nothing else holds (`ResponseDiscarder`).
    var retainedDelegate: UpstreamLinkDelegate?
    private(set) var context: ChannelHandlerContext?
    private var parser: ResponseHeadParser
    private var body: BodyReader?
    private var requestMethod = RequestMethod.get
    private var inbound = ByteBuffer()
    private var pendingRead = false
    /// The response in progress has ended; reads past it mean the upstream is out of step.
    private(set) var responseComplete = true
    /// The current response said the connection closes after it (or is read until close).
    private(set) var closesAfterResponse = false
    private var broken = false
    /// The request in flight is a WebSocket handshake: a `101` naming websocket is welcome.
    private var expectsUpgrade = false

    // One idle timer per connection, re-armed lazily from a timestamp: no promise per write.
    private let idleTimeout: TimeAmount
    private var lastActivity = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?

    init(idleTimeout: TimeAmount, maxHeadBytes: Int) {
        self.idleTimeout = idleTimeout
        self.parser = ResponseHeadParser(maxHeadBytes: maxHeadBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armIdleTimer(context: context, in: idleTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        self.context = nil
    }

    /// Starts an exchange: the response to come answers a request of `method`.
    func begin(method: RequestMethod, upgrade: Bool = false) {
        requestMethod = method
        expectsUpgrade = upgrade
        responseComplete = false
        closesAfterResponse = false
        body = nil
        parser.reset()
        lastActivity = NIODeadline.now()
    }

    /// Writes request bytes (the caller flushes).
    func write(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>? = nil) {
        lastActivity = NIODeadline.now()
        context?.write(wrapOutboundOut(buffer), promise: promise)
    }

    func flush() { context?.flush() }

    var isWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = NIODeadline.now()
        let bytes = unwrapInboundIn(data)
        guard !broken else { return }
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            var more = bytes
            inbound.writeBuffer(&more)
        }
        process(context: context)
    }

    private func process(context: ChannelHandlerContext) {
        while inbound.readableBytes > 0, !broken {
            guard let delegate, !responseComplete else {
                // Bytes nobody asked for (an idle pooled connection, or past a response's end).
                fail(.malformed("bytes after the response"), context: context)
                return
            }
            if var reader = body {
                body = nil
                let step = reader.read(&inbound) { delegate.upstreamResponseBody($0) }
                body = reader
                switch step {
                case .needMore:
                    return
                case .failure(let e):
                    fail(.malformed(e.description), context: context)
                    return
                case .end:
                    responseEnded(delegate)
                }
                continue
            }
            switch parser.parse(inbound) {
            case .needMore:
                return
            case .failure(let e):
                fail(.malformed(e.description), context: context)
                return
            case .complete(let length):
                var head = parser.take(length: length, from: &inbound)
                if head.status == 101, expectsUpgrade {
                    // The WebSocket handshake was accepted: the rest of the connection, both
                    // ways, is the tunnel's, and it never goes back to the pool.
                    guard head.upgradesToWebSocket else {
                        fail(.malformed("101 Switching Protocols without Upgrade: websocket"), context: context)
                        return
                    }
                    expectsUpgrade = false
                    closesAfterResponse = true
                    body = .untilClose
                    delegate.upstreamResponseHead(head)
                    continue
                }
                if head.status < 200 {
                    // 100 Continue and other interim answers are not relayed; a 101 means
                    // the upstream switched protocols although Gatehouse never asked it to.
                    if head.status == 101 {
                        fail(.malformed("unexpected 101 Switching Protocols"), context: context)
                        return
                    }
                    parser.recycle(&head)
                    continue
                }
                guard let reader = head.bodyReader(requestMethod: requestMethod) else {
                    fail(.malformed("ambiguous or unsupported framing"), context: context)
                    return
                }
                if case .untilClose = reader { closesAfterResponse = true }
                if head.closesConnection { closesAfterResponse = true }
                body = reader
                delegate.upstreamResponseHead(head)
                if reader.isFinished {
                    body = nil
                    responseEnded(delegate)
                }
            }
        }
    }

    private func responseEnded(_ delegate: UpstreamLinkDelegate) {
        responseComplete = true
        body = nil
        delegate.upstreamResponseEnd()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(.io(error), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        if !broken {
            broken = true
            if case .untilClose? = body, let delegate {
                // A response without length ends when the connection does.
                responseEnded(delegate)
            } else if !responseComplete {
                delegate?.upstreamBroke(.closed)
            }
        }
        delegate = nil
        retainedDelegate = nil
        context.fireChannelInactive()
    }

    private func fail(_ failure: UpstreamFailure, context: ChannelHandlerContext) {
        guard !broken else { return }
        broken = true
        let delegate = self.delegate
        self.delegate = nil
        retainedDelegate = nil
        context.close(promise: nil)
        delegate?.upstreamBroke(failure)
    }

    /// Whether the connection can carry another request.
    var isReusable: Bool { !broken && responseComplete && !closesAfterResponse && inbound.readableBytes == 0 && (context?.channel.isActive ?? false) }

    // MARK: - Backpressure

    func read(context: ChannelHandlerContext) {
        if let delegate, !delegate.clientCanTakeMore {
            pendingRead = true
            return
        }
        context.read()
    }

    /// The client can take more again.
    func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    // MARK: - Idle timer

    private func armIdleTimer(context: ChannelHandlerContext, in delay: TimeAmount) {
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
            guard let self, let context = self.context else { return }
            let idle = NIODeadline.now() - self.lastActivity
            if idle >= self.idleTimeout {
                self.idleTimer = nil
                if let delegate = self.delegate {
                    self.broken = true
                    self.delegate = nil
                    self.retainedDelegate = nil
                    context.close(promise: nil)
                    delegate.upstreamBroke(.idleTimeout)
                } else {
                    context.close(promise: nil)
                }
            } else {
                self.armIdleTimer(context: context, in: self.idleTimeout - idle)
            }
        }
    }
}
