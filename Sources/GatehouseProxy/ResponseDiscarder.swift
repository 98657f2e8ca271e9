import NIOCore
import NIOHTTP1

/// Reads and drops the response to a request whose client went away (a reset HTTP/2 stream, a
/// closed connection) after the whole request was sent, then returns the upstream connection to
/// the pool — so that a client resetting streams cannot make Gatehouse throw away pooled
/// connections. A response longer than `limit` bytes, or any failure, closes the connection
/// instead; the upstream idle timeout still bounds a response that never ends.
final class ResponseDiscarder: UpstreamDelegate {
    static let limit = 256 * 1024

    private let connection: UpstreamConnection
    private let pool: UpstreamPool
    private var bytes = 0

    init(connection: UpstreamConnection, pool: UpstreamPool) {
        self.connection = connection
        self.pool = pool
    }

    var clientWritable: Bool { true }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        switch part {
        case .head(let head):
            if head.status.code >= 200, !head.isKeepAlive { connection.reusable = false }
        case .body(let buffer):
            bytes += buffer.readableBytes
            if bytes > Self.limit { give(up: true) }
        case .end:
            give(up: false)
        }
    }

    func upstreamReadComplete() {}
    func upstreamWritabilityChanged(writable: Bool) {}
    func upstreamFailed(_ error: Error) { give(up: true) }
    func upstreamIdleTimeout() { give(up: true) }
    func upstreamClosed() { give(up: true) }

    private func give(up: Bool) {
        guard connection.discarder === self else { return }
        connection.discarder = nil
        if up {
            connection.reusable = false
            connection.handler.delegate = nil
            connection.channel.close(promise: nil)
        } else {
            pool.checkin(connection)
        }
    }
}

extension UpstreamPool {
    /// See `ResponseDiscarder`.
    func discardResponseThenCheckin(_ connection: UpstreamConnection) {
        let discarder = ResponseDiscarder(connection: connection, pool: self)
        connection.discarder = discarder
        connection.handler.delegate = discarder
        // Reads may have been held back for the client that left.
        connection.handler.resumeReading()
    }
}
