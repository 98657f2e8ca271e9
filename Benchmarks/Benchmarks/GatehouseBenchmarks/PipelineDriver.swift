@_spi(Benchmarks) import GatehouseProxy
import NIOCore
import NIOEmbedded

/// One client connection and one pooled upstream connection on an embedded event loop, served
/// by the real data plane (`BenchmarkProxyConnection`): request bytes go in, the forwarded head
/// comes out on the upstream side, an upstream answer goes back to the client.
///
/// An embedded loop may only be used from the thread that made it, so a driver is made by the
/// benchmark closure itself (the runner calls it on one thread), not in the async setup hook.
final class PipelineDriver {
    private let loop = EmbeddedEventLoop()
    private let client: EmbeddedChannel
    private let upstream: EmbeddedChannel
    private let connection: BenchmarkProxyConnection
    private let request: ByteBuffer
    private let response: ByteBuffer

    /// The outcome of one request.
    struct Exchange {
        var forwarded: ByteBuffer?
        var answered: ByteBuffer?
        var ok: Bool { answered.map { $0.readableBytesView.starts(with: "HTTP/1.1 200 ".utf8) } ?? false }
    }

    /// How the request names its tenant.
    enum Route {
        /// `/t/t0/…` (the prefix is removed before forwarding).
        case pathPrefix
        /// `Host: t0.agents.example.com`.
        case host
    }

    init(_ fixture: PipelineFixture, route: Route) throws {
        client = EmbeddedChannel(loop: loop)
        client.remoteAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 50_000)
        upstream = EmbeddedChannel(loop: loop)
        upstream.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 18_081), promise: nil)
        connection = try BenchmarkProxyConnection(runtime: fixture.runtime, tenant: fixture.tenant, client: client, upstream: upstream)
        client.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 8080), promise: nil)
        // Carries a spoofed identity header that must not get through.
        let byHost = route == .host
        request = ByteBuffer(
            string: "GET \(byHost ? "/mcp" : Fixtures.pathPrefix(0) + "/mcp") HTTP/1.1\r\n"
                + "Host: \(byHost ? Fixtures.host(0) : "gatehouse.example.com")\r\nUser-Agent: agent-sdk/1.4.2\r\n"
                + "Accept: application/json, text/event-stream\r\nAuthorization: Bearer \(fixture.token)\r\nX-User-Id: admin\r\n\r\n")
        response = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n")
        try check(fixture)
    }

    /// One request through the proxy and its response back to the client.
    func exchange() throws -> Exchange {
        var result = Exchange()
        try client.writeInbound(request)
        client.pipeline.fireChannelReadComplete()
        while let part = try upstream.readOutbound(as: ByteBuffer.self) {
            if result.forwarded == nil { result.forwarded = part } else { result.forwarded!.writeImmutableBuffer(part) }
        }
        try upstream.writeInbound(response)
        upstream.pipeline.fireChannelReadComplete()
        while let part = try client.readOutbound(as: ByteBuffer.self) {
            if result.answered == nil { result.answered = part } else { result.answered!.writeImmutableBuffer(part) }
        }
        return result
    }

    /// Fails unless a request is forwarded with the propagated identity and answered 200.
    private func check(_ fixture: PipelineFixture) throws {
        for _ in 0..<2 {  // the second one reuses the pooled upstream connection
            let result = try exchange()
            guard result.ok, let forwarded = result.forwarded else {
                throw FixtureError("the request was not forwarded and answered: \(result)")
            }
            let head = String(buffer: forwarded)
            guard head.hasPrefix("GET /mcp HTTP/1.1\r\n"), head.contains("X-User-Id: \(fixture.subject)\r\n"),
                head.contains("X-Tenant-Id: \(fixture.tenant.rawValue)\r\n"), head.contains("X-Gatehouse-Assertion: "),
                head.contains("x-forwarded-for: 127.0.0.1\r\n"), !head.contains("admin")
            else {
                throw FixtureError("the forwarded request is not as expected: \(head)")
            }
        }
    }
}
