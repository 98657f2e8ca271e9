import NIOCore

/// How a response body reaches the client.
enum ClientFraming: Equatable {
    /// No body (HEAD, 1xx, 204, 304): the upstream's `Content-Length` (if any) is passed as is.
    case none
    /// `Content-Length: n`, bytes relayed as they come.
    case length(Int)
    /// Re-framed as chunks (HTTP/1.1 clients; on HTTP/2, DATA frames).
    case chunked
    /// HTTP/1.0 client and no length known: the body ends when the connection does.
    case untilClose
}

/// A response head on its way to the client: the upstream's kept fields (read in place) or
/// Gatehouse's own, plus the fields Gatehouse adds. Each client protocol writes it its own way.
struct OutgoingHead {
    var status: Int
    /// The upstream's head, whose fields not marked `dropped` are relayed.
    var upstream: ResponseHead?
    /// Fields Gatehouse writes (a local answer's, or `X-Request-Id`).
    var extra: [(String, String)] = []
    var framing: ClientFraming
    /// The client connection closes after this response (`Connection: close` on HTTP/1.1).
    var close: Bool
    /// Written as `X-Request-Id` (when the upstream did not send one).
    var requestID: RequestIDBytes? = nil

    static func reasonPhrase(_ status: Int) -> StaticString {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 410: "Gone"
        case 413: "Content Too Large"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }

    /// The HTTP/1.1 bytes of this head.
    func writeHTTP1(into buffer: inout ByteBuffer) {
        // The upstream's kept fields are its own head's bytes, each at most one byte longer
        // (`Name:value` becomes `Name: value`); 512 covers the status line's fixed part, the
        // request id, the framing and `Connection` lines.
        var bound = 512 + (upstream.map { $0.bytes.readableBytes + $0.fields.count } ?? 0)
        for (name, value) in extra { bound += name.utf8.count + value.utf8.count + 4 }
        buffer.writeBounded(maxBytes: bound) { out in
            out.staticString("HTTP/1.1 ")
            out.decimal(status)
            out.byte(UInt8(ascii: " "))
            if let upstream, !upstream.reasonRange.isEmpty {
                upstream.withBytes { p in out.bytes(UnsafeRawBufferPointer(rebasing: p[upstream.reasonRange])) }
            } else {
                out.staticString(Self.reasonPhrase(status))
            }
            out.crlf()
            if let upstream {
                upstream.withBytes { p in
                    for f in upstream.fields where !f.dropped {
                        out.bytes(UnsafeRawBufferPointer(rebasing: p[Int(f.nameStart)..<Int(f.nameEnd)]))
                        out.staticString(": ")
                        out.bytes(UnsafeRawBufferPointer(rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)]))
                        out.crlf()
                    }
                }
            }
            for (name, value) in extra {
                out.string(name)
                out.staticString(": ")
                out.string(value)
                out.crlf()
            }
            if let requestID {
                out.staticString("x-request-id: ")
                requestID.write(into: &out)
                out.crlf()
            }
            switch framing {
            case .length(let n):
                out.staticString("Content-Length: ")
                out.decimal(n)
                out.crlf()
            case .chunked:
                out.staticString("Transfer-Encoding: chunked\r\n")
            case .none, .untilClose:
                break
            }
            if close { out.staticString("Connection: close\r\n") }
            out.crlf()
        }
    }
}
