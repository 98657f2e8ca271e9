import GatehouseCore
import NIOCore
import NIOHTTP1

/// What the client-side handler hears from its upstream connection. Both sides live on the
/// same event loop, so these are plain calls, no hops.
protocol UpstreamDelegate: AnyObject {
    func upstreamReceived(_ part: HTTPClientResponsePart)
    /// The end of one read batch from the upstream: time to flush what was relayed.
    func upstreamReadComplete()
    func upstreamWritabilityChanged(writable: Bool)
    func upstreamFailed(_ error: Error)
    func upstreamIdleTimeout()
    func upstreamClosed()
    /// Whether the client can take more response bytes right now (backpressure).
    var clientWritable: Bool { get }
}

/// The last handler of an upstream connection's pipeline. It forwards response parts to the
/// exchange currently using the connection and gates reads on the client's writability.
final class UpstreamClientHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    weak var delegate: UpstreamDelegate?
    private var pendingRead = false
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if let delegate {
            delegate.upstreamReceived(part)
        } else if case .head = part {
            // A response nobody asked for (an idle pooled connection): the connection is out of sync.
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(writable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        delegate?.upstreamFailed(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        delegate?.upstreamClosed()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            if let delegate {
                delegate.upstreamIdleTimeout()
            } else {
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if let delegate, !delegate.clientWritable {
            pendingRead = true
            return
        }
        context.read()
    }

    /// Called when the client became writable again.
    func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }
}

/// One pooled keep-alive connection to an upstream instance.
final class UpstreamConnection {
    let channel: Channel
    let handler: UpstreamClientHandler
    let instance: UpstreamInstance
    /// Set when the connection must not go back to the pool (protocol error, `Connection: close`…).
    var reusable = true
    /// Holds the delegate (the handler's is weak) while an abandoned response is read and dropped.
    var discarder: ResponseDiscarder?

    init(channel: Channel, handler: UpstreamClientHandler, instance: UpstreamInstance) {
        self.channel = channel
        self.handler = handler
        self.instance = instance
    }
}
