import NIOCore
import NIOHPACK
import NIOHTTP2

/// RFC 9113 8.3.1: when a request carries both `:authority` and `host`, they must name the same
/// authority, and `:authority` is the one that counts. NIO's HTTP/2-to-HTTP/1 conversion keeps
/// `host` and drops `:authority` when both are present, which would route by `host`; so a
/// disagreement is passed on as a second `Host` value, which the proxy refuses (400) as it does
/// any request with two.
final class HTTP2AuthorityCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload

    private var seenHead = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !seenHead, case .headers(var payload) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        seenHead = true
        let hosts = payload.headers["host"]
        if let authority = payload.headers.first(name: ":authority"), !hosts.isEmpty,
            hosts.contains(where: { $0.lowercased() != authority.lowercased() })
        {
            payload.headers.add(name: "host", value: authority)
            context.fireChannelRead(wrapInboundOut(.headers(payload)))
            return
        }
        context.fireChannelRead(data)
    }
}
