import GatehouseCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// One request and its response over one fresh connection.
struct Exchange: Sendable {
    typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    let url: ParsedURL
    let request: ClientRequest
    let tls: NIOSSLContext?
    /// SNI and the name the certificate must carry; nil when the URL names an IP address.
    let serverHostname: String?
    let deadline: NIODeadline
    let maxResponseBytes: Int

    /// A connection, and for https whether its TLS handshake has completed: every failure
    /// before that point is a TLS failure, whatever shape the peer's refusal took.
    struct Open: Sendable {
        let connection: Connection
        let handshake: Flag?
    }

    func connect(to address: SocketAddress, group: any EventLoopGroup, connectTimeout: TimeAmount) async throws -> Open {
        let tls = self.tls
        let serverHostname = self.serverHostname
        let handshake = tls == nil ? nil : Flag()
        let connection = try await ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .connect(to: address) { channel in
                do {
                    let sync = channel.pipeline.syncOperations
                    if let tls, let handshake {
                        try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                        try sync.addHandler(HandshakeWatcher(done: handshake))
                    }
                    try sync.addHTTPClientHandlers()
                    return channel.eventLoop.makeSucceededFuture(try Connection(wrappingChannelSynchronously: channel))
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        return Open(connection: connection, handshake: handshake)
    }

    func run(on open: Open, remoteAddress: SocketAddress) async throws -> ClientResponse {
        let connection = open.connection
        let timedOut = Flag()
        let channel = connection.channel
        let timer = channel.eventLoop.scheduleTask(deadline: deadline) {
            timedOut.set()
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            return try await connection.executeThenClose { inbound, outbound in
                try await outbound.write(contentsOf: requestParts())
                return try await readResponse(inbound, remoteAddress: remoteAddress)
            }
        } catch {
            if timedOut.isSet {
                throw HTTPClientError(.timeout, "no complete response from \(url.host) before the deadline")
            }
            if let handshake = open.handshake, !handshake.isSet, !(error is HTTPClientError) {
                throw HTTPClientError(.tlsFailed, "TLS with \(url.host) failed: \(type(of: error))")
            }
            throw classify(error)
        }
    }

    private func requestParts() -> [HTTPClientRequestPart] {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: url.authority)
        for (name, value) in request.headers {
            switch name.lowercased() {
            case "host", "content-length", "connection", "transfer-encoding": continue
            default: headers.add(name: name, value: value)
            }
        }
        if !headers.contains(name: "user-agent") { headers.add(name: "User-Agent", value: "gatehouse") }
        if let body = request.body {
            headers.add(name: "Content-Length", value: String(body.count))
        } else if [.POST, .PUT, .PATCH].contains(request.method) {
            headers.add(name: "Content-Length", value: "0")
        }
        headers.add(name: "Connection", value: "close")
        let head = HTTPRequestHead(version: .http1_1, method: request.method, uri: url.requestTarget, headers: headers)
        var parts: [HTTPClientRequestPart] = [.head(head)]
        if let body = request.body, !body.isEmpty { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        parts.append(.end(nil))
        return parts
    }

    private func readResponse(
        _ inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>, remoteAddress: SocketAddress
    ) async throws -> ClientResponse {
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        for try await part in inbound {
            switch part {
            case .head(let h):
                // Interim 1xx answers (100 Continue, 103 Early Hints) precede the real one.
                if h.status.code < 200 { continue }
                if let length = h.headers.first(name: "content-length").flatMap(Int.init), length > maxResponseBytes {
                    throw tooLarge()
                }
                head = h
            case .body(let chunk):
                guard head != nil else { throw HTTPClientError(.badResponse, "body before head from \(url.host)") }
                guard body.count + chunk.readableBytes <= maxResponseBytes else { throw tooLarge() }
                body.append(contentsOf: chunk.readableBytesView)
            case .end:
                guard let head else { continue }
                return ClientResponse(status: head.status, headers: head.headers, body: body, remoteAddress: remoteAddress)
            }
        }
        throw HTTPClientError(.badResponse, "\(url.host) closed the connection before the response was complete")
    }

    private func tooLarge() -> HTTPClientError {
        HTTPClientError(.tooLarge, "response from \(url.host) exceeds \(maxResponseBytes) bytes")
    }

    private func classify(_ error: any Error) -> HTTPClientError {
        switch error {
        case let e as HTTPClientError: return e
        case is NIOSSLError, is NIOSSLExtraError, is BoringSSLError:
            return HTTPClientError(.tlsFailed, "TLS with \(url.host) failed: \(error)")
        case is HTTPParserError:
            return HTTPClientError(.badResponse, "malformed response from \(url.host)")
        case is CancellationError:
            return HTTPClientError(.timeout, "cancelled")
        default:
            return HTTPClientError(.badResponse, "exchange with \(url.host) failed: \(type(of: error))")
        }
    }
}

/// Set once by the deadline timer, read by the task that awaits the response.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}

/// Notes the end of a successful TLS handshake.
final class HandshakeWatcher: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    private let done: Flag

    init(done: Flag) { self.done = done }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { done.set() }
        context.fireUserInboundEventTriggered(event)
    }
}
