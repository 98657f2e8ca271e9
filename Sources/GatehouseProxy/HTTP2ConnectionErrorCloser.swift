import NIOCore

/// Closes an HTTP/2 connection once it has sent a GOAWAY with an error code (RFC 9113 5.4.1:
/// after a connection error the endpoint closes the TCP connection). NIO's HTTP/2 handler writes
/// the GOAWAY and reports the error, but leaves the socket open — and answers every later frame
/// with another GOAWAY. A graceful GOAWAY (NO_ERROR, at drain) leaves the connection open.
///
/// Sits between the socket (or TLS) and the HTTP/2 handler and reads the frame headers of what
/// is written: every outbound byte there is a frame, so frame boundaries are known exactly.
final class HTTP2ConnectionErrorCloser: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private var header: [UInt8] = []
    /// Payload bytes of the current frame not yet seen.
    private var remaining = 0
    /// The first 8 payload bytes of a GOAWAY being written (last stream id, error code).
    private var goAway: [UInt8]?
    private var closing = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let io = unwrapOutboundIn(data)
        if case .byteBuffer(let buffer) = io, !closing { scan(buffer.readableBytesView) }
        guard closing else {
            context.write(data, promise: promise)
            return
        }
        let written = promise ?? context.eventLoop.makePromise()
        context.writeAndFlush(data, promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    private func scan(_ bytes: ByteBufferView) {
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if remaining > 0 {
                let take = min(remaining, bytes.endIndex - i)
                if var collected = goAway, collected.count < 8 {
                    collected.append(contentsOf: bytes[i..<(i + min(take, 8 - collected.count))])
                    goAway = collected
                }
                remaining -= take
                i += take
                if remaining == 0 { frameEnded() }
                continue
            }
            header.append(bytes[i])
            i += 1
            if header.count == 9 {
                remaining = Int(header[0]) << 16 | Int(header[1]) << 8 | Int(header[2])
                goAway = header[3] == 0x7 ? [] : nil
                header.removeAll(keepingCapacity: true)
                if remaining == 0 { frameEnded() }
            }
        }
    }

    private func frameEnded() {
        defer { goAway = nil }
        guard let payload = goAway, payload.count == 8 else { return }
        let code = UInt32(payload[4]) << 24 | UInt32(payload[5]) << 16 | UInt32(payload[6]) << 8 | UInt32(payload[7])
        if code != 0 { closing = true }
    }
}
