import GatehouseCore

#if canImport(Glibc)
import Glibc
#endif

/// A deliberately dumb HTTP/1.1 client over a blocking POSIX socket, so tests can send exactly
/// the bytes they want (hostile headers, odd framing) and see exactly what comes back, with the
/// time each chunk arrived.
struct RawClient {
    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
        /// Arrival time (monotonic seconds) of each chunk of bytes read from the socket.
        var arrivals: [(at: Double, bytes: Int)]

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        func headers(_ name: String) -> [String] {
            headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
        }

        var text: String { String(decoding: body, as: UTF8.self) }
        var json: JSONValue? { try? JSONParser.parse(body) }
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    let port: Int

    /// Sends `request` raw and reads until the response is complete (Content-Length, chunked
    /// end, or close). `timeout` bounds every read.
    func sendBlocking(_ request: String, timeout: Double = 10) throws -> Response {
        let fd = try connectSocket(timeout: timeout)
        defer { close(fd) }
        var bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, 0) }
            guard n > 0 else { throw Failure(description: "send failed") }
            sent += n
        }
        let (response, received) = readResponse(fd)
        guard let response else { throw Failure(description: "no complete response (\(received) bytes)") }
        return response
    }

    /// Reads from `fd` until a response is complete (or the server closes, or a read times
    /// out); the response, if one could be parsed, and the bytes read.
    private func readResponse(_ fd: Int32) -> (Response?, Int) {
        var received: [UInt8] = []
        var arrivals: [(Double, Int)] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
            arrivals.append((monotonicSeconds(), n))
            if let response = RawClient.parse(received, arrivals: arrivals, complete: false) { return (response, received.count) }
        }
        return (RawClient.parse(received, arrivals: arrivals, complete: true), received.count)
    }

    /// Sends `head`, then `bodyBytes` bytes of body as fast as the server takes them (writes
    /// that fail end the sending, without SIGPIPE), then reads the response. Returns how many
    /// body bytes were sent and the response, if one could be read.
    func sendLargeBodyBlocking(head: String, bodyBytes: Int, timeout: Double = 10) throws -> (sent: Int, response: Response?) {
        let fd = try connectSocket(timeout: timeout)
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let headBytes = Array(head.utf8)
        guard headBytes.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }) == headBytes.count else {
            throw Failure(description: "send failed")
        }
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 65536)
        var sent = 0
        while sent < bodyBytes {
            let n = chunk.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, min($0.count, bodyBytes - sent), Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        return (sent, readResponse(fd).0)
    }

    /// A connected socket to 127.0.0.1:`port` whose reads give up after `timeout`.
    private func connectSocket(timeout: Double) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
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
        return fd
    }

    /// Sends `head`, waits (bounded by `timeout`) for an interim `100 Continue`, then sends
    /// `body` and returns everything until the server closes. Nil when no 100 came.
    func sendExpectingContinue(head: String, body: String, timeout: Double = 5) throws -> String? {
        let fd = try connectSocket(timeout: timeout)
        defer { close(fd) }
        _ = Array(head.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, 0) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        guard n > 0, String(decoding: buffer[0..<n], as: UTF8.self).hasPrefix("HTTP/1.1 100") else { return nil }
        _ = Array(body.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, 0) }
        var received: [UInt8] = []
        while true {
            let m = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if m <= 0 { break }
            received.append(contentsOf: buffer[0..<m])
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Sends `request` raw and returns every byte until the server closes the connection.
    func sendReadingUntilClose(_ request: String, timeout: Double = 10) throws -> [UInt8] {
        let fd = try connectSocket(timeout: timeout)
        defer { close(fd) }
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, 0) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
        }
        return received
    }

    static func parse(_ data: [UInt8], arrivals: [(Double, Int)], complete: Bool) -> Response? {
        guard let headerEnd = find(data, [13, 10, 13, 10]) else { return nil }
        let headText = String(decoding: data[0..<headerEnd], as: UTF8.self)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { return nil }
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters()))
        }
        let bodyStart = headerEnd + 4
        let rest = Array(data[bodyStart...])
        let lower = headers.map { ($0.0.lowercased(), $0.1) }
        if let cl = lower.first(where: { $0.0 == "content-length" }), let n = Int(cl.1) {
            guard rest.count >= n else { return complete ? Response(status: status, headers: headers, body: rest, arrivals: arrivals) : nil }
            return Response(status: status, headers: headers, body: Array(rest[0..<n]), arrivals: arrivals)
        }
        if lower.contains(where: { $0.0 == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
            var body: [UInt8] = []
            var i = 0
            while true {
                guard let lineEnd = find(Array(rest[i...]), [13, 10]) else { return nil }
                let sizeText = String(decoding: rest[i..<(i + lineEnd)], as: UTF8.self)
                guard let size = Int(sizeText.split(separator: ";")[0], radix: 16) else { return nil }
                i += lineEnd + 2
                if size == 0 { return Response(status: status, headers: headers, body: body, arrivals: arrivals) }
                guard rest.count >= i + size + 2 else { return nil }
                body.append(contentsOf: rest[i..<(i + size)])
                i += size + 2
            }
        }
        if status == 204 || status == 304 || (100..<200).contains(status) {
            return Response(status: status, headers: headers, body: [], arrivals: arrivals)
        }
        return complete ? Response(status: status, headers: headers, body: rest, arrivals: arrivals) : nil
    }

    static func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}

extension StringProtocol {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}

import Foundation

extension RawClient {
    /// Runs the blocking exchange on its own thread: blocking a cooperative-pool thread could
    /// starve the very server under test (its async work shares that pool).
    func send(_ request: String, timeout: Double = 10) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    continuation.resume(returning: try self.sendBlocking(request, timeout: timeout))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    func sendReadingUntilClose(_ request: String, timeout: Double = 10) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    let bytes = try self.sendReadingUntilClose(request, timeout: timeout) as [UInt8]
                    continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// A request with the given headers and `Connection: close`.
    func request(
        _ method: String = "GET", _ path: String, headers: [(String, String)] = [], body: String? = nil, host: String = "localhost"
    ) async throws -> Response {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)" } else { text += "\r\n" }
        return try await send(text)
    }
}
