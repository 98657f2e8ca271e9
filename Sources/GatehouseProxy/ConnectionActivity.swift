import NIOCore

/// How many requests are in progress on one client connection (one at most on HTTP/1.1, one per
/// open stream on HTTP/2). A connection with a request in progress is never idle, however long
/// its upstream takes: only the upstream's own idle timeout applies to a waiting request, and
/// it answers 504 (docs/http.md "Timeouts").
final class ConnectionActivity: @unchecked Sendable {
    // @unchecked: created in the connection's channel initializer and from then on touched only
    // on that connection's event loop (its handlers and its HTTP/2 streams' handlers all run there).
    var inFlight = 0
}

/// Closes a client connection on `IdleStateHandler`'s idle event — unless a request is in
/// progress on it.
final class ClientIdleCloser: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let activity: ConnectionActivity

    init(activity: ConnectionActivity) {
        self.activity = activity
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if activity.inFlight == 0 { context.close(promise: nil) }
    }
}
