import GatehouseHTTP
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

struct TimedOut: Error {}

/// Bounds a test step: fails instead of hanging when the awaited condition never comes.
func withTimeout<T: Sendable>(_ seconds: Double = 10, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimedOut()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// Polls `condition` until it holds; throws `TimedOut` after `seconds`.
func waitUntil(_ seconds: Double = 10, _ condition: @escaping @Sendable () -> Bool) async throws {
    try await withTimeout(seconds) {
        while !condition() { try await Task.sleep(for: .milliseconds(5)) }
    }
}

/// Starts a server on an ephemeral loopback port, runs `body`, and always shuts it down.
func withServer<T: Sendable>(
    configuration: SimpleHTTPServer.Configuration = .init(),
    handler: @escaping HTTPServerHandler,
    _ body: (SimpleHTTPServer) async throws -> T
) async throws -> T {
    let server = try await SimpleHTTPServer.start(
        host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton, configuration: configuration, handler: handler)
    do {
        let result = try await body(server)
        try await server.shutdown()
        return result
    } catch {
        try? await server.shutdown()
        throw error
    }
}

/// A counter shared between a handler and the test.
final class Counter: Sendable {
    private let value = Mutex(0)
    func increment() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}

/// A raw HTTP/1.1 connection, for what `HTTPClient` deliberately cannot do (keep-alive, reading
/// a stream part by part).
typealias HTTPConnection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

func connectHTTP(port: Int) async throws -> HTTPConnection {
    try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
        do {
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            return channel.eventLoop.makeSucceededFuture(try HTTPConnection(wrappingChannelSynchronously: channel))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
    }
}

/// A raw byte connection, for sending what no HTTP client would.
typealias ByteConnection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

func connectBytes(port: Int) async throws -> ByteConnection {
    try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
        do {
            return channel.eventLoop.makeSucceededFuture(try ByteConnection(wrappingChannelSynchronously: channel))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
    }
}

func requestHead(_ method: HTTPMethod, _ uri: String, headers: HTTPHeaders = ["Host": "test"]) -> HTTPClientRequestPart {
    .head(HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers))
}

/// Reads one whole response from `parts`.
func readResponse(
    _ parts: inout NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
) async throws -> (head: HTTPResponseHead, body: String) {
    var head: HTTPResponseHead?
    var body: [UInt8] = []
    while let part = try await parts.next() {
        switch part {
        case .head(let h): head = h
        case .body(let b): body.append(contentsOf: b.readableBytesView)
        case .end: return (try #require(head), String(decoding: body, as: UTF8.self))
        }
    }
    throw TimedOut()
}
