import CNGHTTP2
import Foundation
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2

// Feeds recorded client bytes (client-bytes.py: batches of HEADERS, one read each) through one
// HTTP/2 layer in an EmbeddedChannel and answers every stream `200`, `content-length: 2`, "ok".
// Both layers read every request field (NIO as the Strings it decodes to; nghttp2 as bytes copied
// into one buffer per stream, as a proxy would) and write one response per stream.
//
// usage: h2engines nio|nghttp2|null FILE [ROUNDS]

/// swift-nio-http2 at frame level: `NIOHTTP2Handler` without a stream multiplexer (no child
/// channel per stream), frames handled on the connection's own pipeline.
final class NIOFrameServer: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    var fieldBytes = 0
    static let responseBody = ByteBuffer(string: "ok")

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard case .headers(let headers) = frame.payload else { return }
        for field in headers.headers { fieldBytes &+= field.name.utf8.count &+ field.value.utf8.count }
        guard headers.endStream else { return }
        var fields = HPACKHeaders()
        fields.add(name: ":status", value: "200")
        fields.add(name: "content-length", value: "2")
        context.write(wrapOutboundOut(HTTP2Frame(streamID: frame.streamID, payload: .headers(.init(headers: fields)))), promise: nil)
        context.write(
            wrapOutboundOut(HTTP2Frame(streamID: frame.streamID, payload: .data(.init(data: .byteBuffer(Self.responseBody), endStream: true)))),
            promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
}

/// libnghttp2 driven with bytes: `nghttp2_session_mem_recv` on every read, `mem_send` after it.
final class NGHTTP2Server: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Stream {
        var fields: ByteBuffer
        var bodySent = false
    }

    var session: OpaquePointer?
    var streams: [Int32: Stream] = [:]
    var context: ChannelHandlerContext?

    init() {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, user in
            let server = Unmanaged<NGHTTP2Server>.fromOpaque(user!).takeUnretainedValue()
            let id = frame!.pointee.hd.stream_id
            server.streams[id] = Stream(fields: ByteBufferAllocator().buffer(capacity: 1024))
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, namelen, value, valuelen, _, user in
            let server = Unmanaged<NGHTTP2Server>.fromOpaque(user!).takeUnretainedValue()
            let id = frame!.pointee.hd.stream_id
            server.streams[id]?.fields.writeBytes(UnsafeRawBufferPointer(start: name, count: namelen))
            server.streams[id]?.fields.writeBytes(UnsafeRawBufferPointer(start: value, count: valuelen))
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { session, frame, user in
            let server = Unmanaged<NGHTTP2Server>.fromOpaque(user!).takeUnretainedValue()
            let hd = frame!.pointee.hd
            guard hd.type == UInt8(NGHTTP2_HEADERS.rawValue) || hd.type == UInt8(NGHTTP2_DATA.rawValue),
                hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            else { return 0 }
            server.respond(session!, hd.stream_id)
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, id, _, user in
            let server = Unmanaged<NGHTTP2Server>.fromOpaque(user!).takeUnretainedValue()
            server.streams[id] = nil
            return 0
        }
        nghttp2_session_server_new(&session, callbacks, Unmanaged.passUnretained(self).toOpaque())
        nghttp2_session_callbacks_del(callbacks)
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: 256),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: 1 << 20),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
    }

    deinit { nghttp2_session_del(session) }

    static let status: [UInt8] = Array(":status".utf8)
    static let ok: [UInt8] = Array("200".utf8)
    static let length: [UInt8] = Array("content-length".utf8)
    static let two: [UInt8] = Array("2".utf8)

    func respond(_ session: OpaquePointer, _ id: Int32) {
        Self.status.withUnsafeBufferPointer { s in
            Self.ok.withUnsafeBufferPointer { o in
                Self.length.withUnsafeBufferPointer { l in
                    Self.two.withUnsafeBufferPointer { t in
                        let flags = UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_COPY_VALUE.rawValue)
                        var nva = [
                            nghttp2_nv(name: UnsafeMutablePointer(mutating: s.baseAddress), value: UnsafeMutablePointer(mutating: o.baseAddress), namelen: s.count, valuelen: o.count, flags: flags),
                            nghttp2_nv(name: UnsafeMutablePointer(mutating: l.baseAddress), value: UnsafeMutablePointer(mutating: t.baseAddress), namelen: l.count, valuelen: t.count, flags: flags),
                        ]
                        var provider = nghttp2_data_provider()
                        provider.read_callback = { _, id, buf, length, flags, _, user in
                            let server = Unmanaged<NGHTTP2Server>.fromOpaque(user!).takeUnretainedValue()
                            flags!.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue)
                            if server.streams[id]?.bodySent == true { return 0 }
                            server.streams[id]?.bodySent = true
                            buf![0] = UInt8(ascii: "o")
                            buf![1] = UInt8(ascii: "k")
                            return 2
                        }
                        nghttp2_submit_response(session, id, &nva, nva.count, &provider)
                    }
                }
            }
        }
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        let read = bytes.withUnsafeReadableBytes { p in
            nghttp2_session_mem_recv(session, p.baseAddress!.assumingMemoryBound(to: UInt8.self), p.count)
        }
        precondition(read == bytes.readableBytes, "nghttp2_session_mem_recv: \(read)")
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: 0)
        while true {
            var chunk: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &chunk)
            if n <= 0 { break }
            out.writeBytes(UnsafeRawBufferPointer(start: chunk, count: n))
        }
        if out.readableBytes > 0 { context.writeAndFlush(wrapOutboundOut(out), promise: nil) }
    }
}

/// Counts DATA frames that end a stream in a server's output (frame headers only; payloads are
/// skipped without copying).
struct ResponseCounter {
    var header: [UInt8] = []
    var skip = 0
    var ended = 0

    mutating func feed(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { p in
            var i = 0
            while i < p.count {
                if skip > 0 {
                    let n = min(skip, p.count - i)
                    skip -= n
                    i += n
                    continue
                }
                header.append(p[i])
                i += 1
                if header.count == 9 {
                    skip = Int(header[0]) << 16 | Int(header[1]) << 8 | Int(header[2])
                    if header[3] == 0, header[4] & 1 != 0 { ended += 1 }
                    header.removeAll(keepingCapacity: true)
                }
            }
        }
    }
}

/// Reads and drops what it is given: the harness's own cost.
final class NullServer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
}

func batches(_ path: String) -> [ByteBuffer] {
    let data = FileManager.default.contents(atPath: path)!
    var all = ByteBuffer(bytes: data)
    var out: [ByteBuffer] = []
    while let n = all.readInteger(as: UInt32.self) { out.append(all.readSlice(length: Int(n))!) }
    return out
}

let arguments = CommandLine.arguments
let engine = arguments[1]
let input = batches(arguments[2])
let rounds = arguments.count > 3 ? Int(arguments[3])! : 1
var total = 0
let started = Date()
for _ in 0..<rounds {
    let channel = EmbeddedChannel()
    if engine == "nio" {
        try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .server, initialSettings: [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 256), HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
        ]))
        try channel.pipeline.syncOperations.addHandler(NIOFrameServer())
    } else if engine == "nghttp2" {
        try channel.pipeline.syncOperations.addHandler(NGHTTP2Server())
    } else {
        try channel.pipeline.syncOperations.addHandler(NullServer())
    }
    // Active, as a connected socket is (NIO's handler writes its preface then).
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    var counter = ResponseCounter()
    for batch in input {
        try channel.writeInbound(batch)
        while let out = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let b) = out else { fatalError("file region") }
            counter.feed(b)
        }
    }
    total += counter.ended
    _ = try? channel.finish()
}
let seconds = Date().timeIntervalSince(started)
print("\(engine): \(total) responses, \(String(format: "%.2f", seconds * 1e6 / Double(max(total, 1)))) µs per request")
