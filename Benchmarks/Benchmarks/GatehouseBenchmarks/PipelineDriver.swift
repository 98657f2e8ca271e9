@_spi(Benchmarks) import GatehouseProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// One client connection and one pooled upstream connection on an embedded event loop, served
/// by the real `ProxyHandler` (`BenchmarkProxyConnection`): a request goes in as HTTP parts,
/// the forwarded head comes out on the upstream side, an upstream answer goes back to the client.
///
/// An embedded loop may only be used from the thread that made it, so a driver is made by the
/// benchmark closure itself (the runner calls it on one thread), not in the async setup hook.
final class PipelineDriver {
    private let loop = EmbeddedEventLoop()
    private let client: EmbeddedChannel
    private let upstream: EmbeddedChannel
    private let connection: BenchmarkProxyConnection
    private let request: HTTPRequestHead
    private let response: HTTPResponseHead
    private let responseBody: ByteBuffer

    /// The outcome of one request.
    struct Exchange {
        var forwarded: HTTPRequestHead?
        var status: HTTPResponseStatus?
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
        // Carries a spoofed identity header that must not get through.
        let byHost = route == .host
        request = HTTPRequestHead(
            version: .http1_1, method: .GET, uri: byHost ? "/mcp" : Fixtures.pathPrefix(0) + "/mcp",
            headers: [
                "Host": byHost ? Fixtures.host(0) : "gatehouse.example.com", "User-Agent": "agent-sdk/1.4.2",
                "Accept": "application/json, text/event-stream", "Authorization": "Bearer \(fixture.token)", "X-User-Id": "admin",
            ])
        response = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Type": "text/plain", "Content-Length": "3"])
        responseBody = ByteBuffer(string: "ok\n")
        try check(fixture)
    }

    /// One request through the proxy and its response back to the client.
    func exchange() throws -> Exchange {
        var result = Exchange()
        try client.writeInbound(HTTPServerRequestPart.head(request))
        try client.writeInbound(HTTPServerRequestPart.end(nil))
        while let part = try upstream.readOutbound(as: HTTPClientRequestPart.self) {
            if case .head(let head) = part { result.forwarded = head }
        }
        try upstream.writeInbound(HTTPClientResponsePart.head(response))
        try upstream.writeInbound(HTTPClientResponsePart.body(responseBody))
        try upstream.writeInbound(HTTPClientResponsePart.end(nil))
        while let part = try client.readOutbound(as: HTTPServerResponsePart.self) {
            if case .head(let head) = part { result.status = head.status }
        }
        return result
    }

    /// Fails unless a request is forwarded with the propagated identity and answered 200.
    private func check(_ fixture: PipelineFixture) throws {
        for _ in 0..<2 {  // the second one reuses the pooled upstream connection
            let result = try exchange()
            guard result.status == .ok, let head = result.forwarded else {
                throw FixtureError("the request was not forwarded and answered: \(result)")
            }
            let headers = head.headers
            guard head.uri == "/mcp", headers["X-User-Id"] == [fixture.subject], headers["X-Tenant-Id"] == [fixture.tenant.rawValue],
                headers["X-Gatehouse-Assertion"].count == 1, headers["X-Forwarded-For"] == ["127.0.0.1"]
            else {
                throw FixtureError("the forwarded request is not as expected: \(head)")
            }
        }
    }
}
