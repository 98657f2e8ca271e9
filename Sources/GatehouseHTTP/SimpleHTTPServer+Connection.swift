import Logging
import NIOCore
import NIOHTTP1

/// Serves the requests of one connection in order (pipelined requests are queued by NIO's
/// `HTTPServerPipelineHandler`, so one at a time is correct here).
struct ConnectionServer: Sendable {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    typealias Inbound = NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator
    typealias Outbound = NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>

    let handler: HTTPServerHandler
    let maxBodyBytes: Int
    let logger: Logger

    func serve(_ connection: Connection) async {
        let remote = connection.channel.remoteAddress?.ipAddress
        do {
            try await connection.executeThenClose { inbound, outbound in
                var parts = inbound.makeAsyncIterator()
                while let part = try await parts.next() {
                    // Only a head starts a request; anything else is the tail of one we stopped reading.
                    guard case .head(let head) = part else { continue }
                    let keepGoing = try await serveRequest(head, parts: &parts, outbound: outbound, remote: remote)
                    if !keepGoing || Task.isCancelled { return }
                }
            }
        } catch {
            // Parse errors were already answered 400 by NIO's protocol error handler; a peer that
            // went away is routine. Neither is worth more than a debug line.
            logger.debug("connection closed with error", metadata: ["error": "\(type(of: error))"])
        }
    }

    /// Returns whether the connection stays open for another request.
    private func serveRequest(
        _ head: HTTPRequestHead, parts: inout Inbound, outbound: Outbound, remote: String?
    ) async throws -> Bool {
        if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maxBodyBytes {
            try await write(tooLarge(), for: head, keepAlive: false, outbound: outbound)
            return false
        }
        if let expect = head.headers.first(name: "expect"), expect.lowercased() == "100-continue" {
            try await outbound.write(.head(HTTPResponseHead(version: head.version, status: .continue)))
        }
        var body: [UInt8] = []
        reading: while true {
            guard let part = try await parts.next() else { return false }
            switch part {
            case .body(let chunk):
                guard body.count + chunk.readableBytes <= maxBodyBytes else {
                    try await write(tooLarge(), for: head, keepAlive: false, outbound: outbound)
                    return false
                }
                body.append(contentsOf: chunk.readableBytesView)
            case .end:
                break reading
            case .head:
                return false
            }
        }
        let request = HTTPServerRequest(
            method: head.method, uri: head.uri, version: head.version, headers: head.headers, body: body,
            remoteAddress: remote)
        let response = await handler(request)
        // Shutting down: whatever a cancelled handler produced is not an answer.
        if Task.isCancelled { return false }
        var keepAlive = head.isKeepAlive
        if case .stream = response.body, head.version == .http1_0, !response.headers.contains(name: "content-length") {
            // HTTP/1.0 has no chunked encoding: the end of the body is the end of the connection.
            keepAlive = false
        }
        if response.headers.first(name: "connection")?.lowercased() == "close" { keepAlive = false }
        try await write(response, for: head, keepAlive: keepAlive, outbound: outbound)
        return keepAlive
    }

    private func tooLarge() -> HTTPServerResponse {
        .error(status: .payloadTooLarge, code: "request_too_large", description: "request body exceeds \(maxBodyBytes) bytes")
    }

    private func write(_ response: HTTPServerResponse, for request: HTTPRequestHead, keepAlive: Bool, outbound: Outbound) async throws {
        var headers = response.headers
        if !keepAlive {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if request.version == .http1_0 {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
        let bodyAllowed = request.method != .HEAD && response.status.mayHaveResponseBody
        var head = HTTPResponseHead(version: request.version, status: response.status, headers: headers)
        switch response.body {
        case .bytes(let bytes):
            if response.status.mayHaveResponseBody {
                head.headers.replaceOrAdd(name: "Content-Length", value: String(bytes.count))
            } else {
                head.headers.remove(name: "Content-Length")
            }
            var parts: [HTTPServerResponsePart] = [.head(head)]
            if bodyAllowed, !bytes.isEmpty { parts.append(.body(.byteBuffer(ByteBuffer(bytes: bytes)))) }
            parts.append(.end(nil))
            try await outbound.write(contentsOf: parts)
        case .stream(let stream):
            try await outbound.write(.head(head))
            if bodyAllowed {
                // Each write is flushed by NIOAsyncChannel: one chunk in, one chunk on the wire.
                for await chunk in stream where !chunk.isEmpty {
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: chunk))))
                }
            }
            try await outbound.write(.end(nil))
        }
    }
}

extension HTTPResponseStatus {
    /// 1xx, 204 and 304 never carry a body.
    var mayHaveResponseBody: Bool {
        !(code < 200 || code == 204 || code == 304)
    }
}
