import Foundation
import GatehouseCore
import NIOCore
import NIOPosix
import Synchronization

/// An upstream that records every byte it receives, connection by connection, and answers each
/// request it reads with a fixed response — as a lenient keep-alive HTTP/1.1 server does. Bytes
/// that follow a request's framing are read as the next request, so a request smuggled inside
/// another's body shows up here as a request of its own.
final class RawUpstream: Sendable {
    struct Options: Sendable {
        /// The complete response written for every request read.
        var response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        /// How long to wait before answering.
        var delay: TimeAmount = .zero
    }

    let port: Int
    private let channel: Channel
    private let recorder: Recorder

    private init(port: Int, channel: Channel, recorder: Recorder) {
        self.port = port
        self.channel = channel
        self.recorder = recorder
    }

    static func start(group: EventLoopGroup, options: Options = Options()) async throws -> RawUpstream {
        let recorder = Recorder()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Connection(recorder: recorder, options: options))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let upstream = RawUpstream(port: channel.localAddress!.port!, channel: channel, recorder: recorder)
        return upstream
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// The bytes of each connection, in the order connections were accepted.
    var connections: [[UInt8]] {
        let ids = recorder.order.withLock { $0 }
        return recorder.bytes.withLock { bytes in ids.map { bytes[$0] ?? [] } }
    }

    /// Everything received, all connections, as text.
    var text: String { connections.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n--- next connection ---\n") }

    var totalBytes: Int { connections.reduce(0) { $0 + $1.count } }

    /// Request heads read (one per request the server answered or would answer).
    var requestCount: Int { connections.reduce(0) { $0 + Self.requests(in: $1).count } }

    /// The heads of the requests in `bytes`, each as text.
    static func requests(in bytes: [UInt8]) -> [String] {
        var heads: [String] = []
        var rest = bytes[...]
        while let (head, consumed) = Self.nextRequest(rest) {
            heads.append(head)
            rest = rest.dropFirst(consumed)
        }
        return heads
    }

    /// A request head and the bytes it takes with its body, if complete.
    static func nextRequest(_ bytes: ArraySlice<UInt8>) -> (String, Int)? {
        let marker: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4 else { return nil }
        var end: Int?
        var i = bytes.startIndex
        while i + 4 <= bytes.endIndex {
            if bytes[i] == 13, Array(bytes[i..<(i + 4)]) == marker {
                end = i + 4
                break
            }
            i += 1
        }
        guard let headEnd = end else { return nil }
        let head = String(decoding: bytes[bytes.startIndex..<headEnd], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n").map { $0.lowercased() }
        var bodyLength = 0
        if let cl = lines.first(where: { $0.hasPrefix("content-length:") }) {
            bodyLength = Int(cl.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        } else if lines.contains(where: { $0.hasPrefix("transfer-encoding:") && $0.contains("chunked") }) {
            // Read chunks up to the last one.
            var j = headEnd
            while true {
                guard let lineEnd = Self.find([13, 10], in: bytes, from: j) else { return nil }
                let sizeText = String(decoding: bytes[j..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
                j = lineEnd + 2
                if size == 0 {
                    guard let trailerEnd = Self.find(marker, in: bytes, from: j - 2) else { return nil }
                    return (head, trailerEnd + 4 - bytes.startIndex)
                }
                j += size + 2
                guard j <= bytes.endIndex else { return nil }
            }
        }
        guard headEnd + bodyLength <= bytes.endIndex else { return nil }
        return (head, headEnd + bodyLength - bytes.startIndex)
    }

    private static func find(_ needle: [UInt8], in bytes: ArraySlice<UInt8>, from: Int) -> Int? {
        var i = from
        while i + needle.count <= bytes.endIndex {
            if Array(bytes[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    func shutdown() async {
        try? await channel.close()
    }

    private final class Recorder: Sendable {
        let bytes = Mutex<[ObjectIdentifier: [UInt8]]>([:])
        let order = Mutex<[ObjectIdentifier]>([])
    }

    private final class Connection: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let recorder: Recorder
        let options: Options
        private var pending: [UInt8] = []

        init(recorder: Recorder, options: Options) {
            self.recorder = recorder
            self.options = options
        }

        func channelActive(context: ChannelHandlerContext) {
            let id = ObjectIdentifier(context.channel)
            recorder.order.withLock { $0.append(id) }
            recorder.bytes.withLock { $0[id] = [] }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            let bytes = Array(buffer.readableBytesView)
            let id = ObjectIdentifier(context.channel)
            recorder.bytes.withLock { $0[id, default: []].append(contentsOf: bytes) }
            pending.append(contentsOf: bytes)
            while let (_, consumed) = RawUpstream.nextRequest(pending[...]) {
                pending.removeFirst(consumed)
                let response = options.response
                let channel = context.channel
                let write: @Sendable () -> Void = {
                    var out = channel.allocator.buffer(capacity: response.utf8.count)
                    out.writeString(response)
                    channel.writeAndFlush(out, promise: nil)
                }
                if options.delay == .zero {
                    write()
                } else {
                    context.eventLoop.scheduleTask(in: options.delay) { write() }
                }
            }
        }
    }
}

/// Runs `body` with a harness whose tenant acme has a `RawUpstream` as its only instance;
/// `customize` may change the rest of the setup.
func withRawUpstream(
    _ options: RawUpstream.Options = RawUpstream.Options(),
    customize: @escaping (inout Harness.Setup) -> Void = { _ in },
    _ body: (Harness, RawUpstream) async throws -> Void
) async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let upstream = try await RawUpstream.start(group: group, options: options)
    do {
        try await withHarness({ setup, _, _ in
            setup.tenants[0].upstreams = [Upstream(url: upstream.url)!]
            customize(&setup)
        }) { h in
            try await body(h, upstream)
        }
    } catch {
        await upstream.shutdown()
        try? await group.shutdownGracefully()
        throw error
    }
    await upstream.shutdown()
    try? await group.shutdownGracefully()
}
