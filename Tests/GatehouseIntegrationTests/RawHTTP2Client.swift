import Foundation
import GatehouseCore
import NIOCore
import NIOHPACK

#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/2 frame as it goes on the wire (RFC 9113 4.1).
struct H2Frame {
    enum Kind: UInt8 {
        case data = 0, headers = 1, rstStream = 3, settings = 4, ping = 6, goAway = 7, windowUpdate = 8, continuation = 9
    }

    static let endStream: UInt8 = 0x1
    static let endHeaders: UInt8 = 0x4
    static let ack: UInt8 = 0x1

    var type: UInt8
    var flags: UInt8
    var stream: UInt32
    var payload: [UInt8]

    init(_ kind: Kind, flags: UInt8 = 0, stream: UInt32 = 0, payload: [UInt8] = []) {
        self.type = kind.rawValue
        self.flags = flags
        self.stream = stream
        self.payload = payload
    }

    init(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8]) {
        self.type = type
        self.flags = flags
        self.stream = stream
        self.payload = payload
    }

    var kind: Kind? { Kind(rawValue: type) }

    var bytes: [UInt8] {
        let n = payload.count
        var out: [UInt8] = [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags]
        out += [UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)]
        return out + payload
    }

    static func rstStream(_ stream: UInt32, code: UInt32 = 0x8) -> H2Frame {
        H2Frame(.rstStream, stream: stream, payload: [UInt8(code >> 24), UInt8(code >> 16 & 0xFF), UInt8(code >> 8 & 0xFF), UInt8(code & 0xFF)])
    }

    /// The error code of a GOAWAY or RST_STREAM frame.
    var errorCode: UInt32? {
        let at: Int
        switch kind {
        case .goAway?: at = 4
        case .rstStream?: at = 0
        default: return nil
        }
        guard payload.count >= at + 4 else { return nil }
        return payload[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }
}

/// A deliberately dumb HTTP/2 client over a blocking socket (prior knowledge, cleartext), so
/// tests can send exactly the frames they want — floods, resets, odd headers — and see every
/// frame that comes back, and whether the server closed the connection.
final class RawHTTP2Client: @unchecked Sendable {
    // @unchecked: used by one test at a time, from one thread at a time (`blocking`).
    struct Failure: Error, CustomStringConvertible { let description: String }

    private let fd: Int32
    private var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
    private var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
    private var pending: [UInt8] = []
    /// The server closed the connection (a read returned 0 or failed other than by timeout).
    private(set) var closed = false
    /// PINGs from the server are acknowledged, as a real client does.
    var answersPings = true

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        // Short reads: `read(timeout:)` keeps its own deadline.
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw Failure(description: "connect failed")
        }
        try sendRaw(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + H2Frame(.settings).bytes)
    }

    deinit { close(fd) }

    /// A header block for `headers` (pseudo-headers first, as given).
    func block(_ headers: [(String, String)]) throws -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        try encoder.encode(headers: HPACKHeaders(headers), to: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// A HEADERS frame for a request on `stream`.
    func request(
        stream: UInt32, method: String = "GET", path: String, authority: String = "localhost", headers: [(String, String)] = [],
        endStream: Bool = true
    ) throws -> H2Frame {
        let fields = [(":method", method), (":scheme", "http"), (":authority", authority), (":path", path)] + headers
        return H2Frame(.headers, flags: H2Frame.endHeaders | (endStream ? H2Frame.endStream : 0), stream: stream, payload: try block(fields))
    }

    func send(_ frames: [H2Frame]) throws {
        try sendRaw(frames.flatMap(\.bytes))
    }

    func sendRaw(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send failed") }
            sent += n
        }
    }

    /// Sends what may fail because the server already closed (a flood): stops at the first failure.
    func sendIgnoringCloseBlocking(_ frames: [H2Frame]) {
        for frame in frames {
            if (try? sendRaw(frame.bytes)) == nil { return }
        }
    }

    /// Reads frames until `done` says so, the server closes, or `timeout` passes; acknowledges
    /// the server's SETTINGS, and its PINGs unless `answersPings` is off.
    func readBlocking(timeout: Double = 10, until done: ([H2Frame]) -> Bool) -> [H2Frame] {
        var frames: [H2Frame] = []
        let deadline = monotonicSeconds() + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !done(frames), !closed, monotonicSeconds() < deadline {
            while let frame = nextFrame() {
                if frame.kind == .settings, frame.flags & H2Frame.ack == 0 { try? sendRaw(H2Frame(.settings, flags: H2Frame.ack).bytes) }
                if frame.kind == .ping, frame.flags & H2Frame.ack == 0, answersPings {
                    try? sendRaw(H2Frame(.ping, flags: H2Frame.ack, payload: frame.payload).bytes)
                }
                frames.append(frame)
            }
            if done(frames) { break }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                pending.append(contentsOf: buffer[0..<n])
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                closed = true
            }
        }
        while let frame = nextFrame() { frames.append(frame) }
        return frames
    }

    /// Reads until the server closes the connection (or `timeout`); returns whether it did.
    func waitForClose(timeout: Double) async -> Bool {
        (try? await blocking { _ = self.readBlocking(timeout: timeout) { _ in false }; return self.closed }) ?? false
    }

    /// `readBlocking` on a thread of its own.
    func read(timeout: Double = 10, until done: @escaping @Sendable ([H2Frame]) -> Bool) async -> [H2Frame] {
        (try? await blocking { self.readBlocking(timeout: timeout, until: done) }) ?? []
    }

    /// `sendIgnoringCloseBlocking` on a thread of its own (a flood can fill the socket buffer).
    func sendIgnoringClose(_ frames: [H2Frame]) async {
        _ = try? await blocking { self.sendIgnoringCloseBlocking(frames) }
    }

    private func nextFrame() -> H2Frame? {
        guard pending.count >= 9 else { return nil }
        let length = Int(pending[0]) << 16 | Int(pending[1]) << 8 | Int(pending[2])
        guard pending.count >= 9 + length else { return nil }
        let stream = (UInt32(pending[5] & 0x7F) << 24) | UInt32(pending[6]) << 16 | UInt32(pending[7]) << 8 | UInt32(pending[8])
        let frame = H2Frame(type: pending[3], flags: pending[4], stream: stream, payload: Array(pending[9..<(9 + length)]))
        pending.removeFirst(9 + length)
        return frame
    }

    /// Decodes a response HEADERS frame (frames must be decoded in the order received: HPACK state).
    func decode(_ frame: H2Frame) throws -> [(String, String)] {
        var buffer = ByteBufferAllocator().buffer(bytes: frame.payload)
        return try decoder.decodeHeaders(from: &buffer).map { ($0.name, $0.value) }
    }

    /// The `:status` of each stream's response in `frames`, decoding every header block.
    func statuses(_ frames: [H2Frame]) throws -> [UInt32: Int] {
        var out: [UInt32: Int] = [:]
        for frame in frames where frame.kind == .headers {
            let fields = try decode(frame)
            if let status = fields.first(where: { $0.0 == ":status" }).flatMap({ Int($0.1) }), out[frame.stream] == nil {
                out[frame.stream] = status
            }
        }
        return out
    }
}

/// Runs blocking socket work on a thread of its own: blocking a cooperative-pool thread could
/// starve the very server under test (and every other test running meanwhile).
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            do {
                continuation.resume(returning: try body())
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}
