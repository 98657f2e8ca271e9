import GatehouseCore
import NIOCore

/// Writes the head of the request Gatehouse sends upstream, in one pre-sized buffer: the
/// request line, the client's kept field lines copied byte for byte, then Gatehouse's own
/// fields (docs/http.md, docs/request-path.md "What an agent receives"). A pure function of its input.
enum UpstreamHead {
    struct Input {
        var head: RequestHead
        var framing: RequestFraming
        /// Removed from the front of the target (a tenant path prefix that routed the request).
        var strippedPrefix: String?
        /// Prepended to the target (the upstream URL's path).
        var basePath: String
        /// The upstream's `Host` (`host[:port]`), used unless the tenant preserves the client's.
        var upstreamHost: String
        var preserveHost: Bool
        var dropAuthorization: Bool
        /// Propagated identity lines, ready (`Name: value\r\n`…).
        var propagated: ByteBuffer
        var assertion: ByteBuffer?
        /// Session header lines rewritten to their configured spelling.
        var sessionLines: ByteBuffer?
        var clientIP: String?
        var scheme: String
        /// The client's `Host`, for `X-Forwarded-Host`.
        var clientHost: String?
        var requestID: RequestIDBytes
        /// A WebSocket handshake: `Connection: upgrade` and `Upgrade: websocket` are written
        /// (the client's own, like every hop-by-hop field, are not copied).
        var websocket = false
        /// The handshake's `Sec-WebSocket-Key`, when Gatehouse makes it: a WebSocket over
        /// HTTP/2 (RFC 8441) has none, and the upstream's HTTP/1.1 handshake needs one.
        var webSocketKey: String? = nil
        /// Gatehouse's own trace context when tracing is on: written instead of the client's
        /// `traceparent` and `tracestate` (which, with tracing off, pass on when well-formed).
        var trace: TraceContextFields? = nil
    }

    /// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64 (RFC 6455 4.1).
    static func newWebSocketKey() -> String {
        let url = Base64URL.encode(Secrets.randomBytes(16))
        return String(url.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 }) + "=="
    }

    static func write(_ input: Input, into buffer: inout ByteBuffer) {
        let head = input.head
        // Everything written is the head's own bytes (a subset; a copied field can grow by one
        // byte, `Name:value` becoming `Name: value`; plus at most one "/" and the separators of
        // the joined X-Forwarded-For) and the pieces below; 512 covers the fixed text, the
        // request id and the content length.
        var bound = 512 + head.bytes.readableBytes + head.fields.count + input.basePath.utf8.count + input.upstreamHost.utf8.count
        bound += input.propagated.readableBytes + (input.assertion?.readableBytes ?? 0) + (input.sessionLines?.readableBytes ?? 0)
        bound += (input.clientIP?.utf8.count ?? 0) + input.scheme.utf8.count + (input.clientHost?.utf8.count ?? 0)
        bound += input.webSocketKey?.utf8.count ?? 0
        bound += (input.trace?.traceparent?.utf8.count ?? 0) + (input.trace?.tracestate?.utf8.count ?? 0) + 32
        buffer.writeBounded(maxBytes: bound) { out in
            head.withBytes { p in
                // Fields named in `Connection` are hop-by-hop too — but never framing or Host.
                var named: [[UInt8]] = []
                var traceOK = false
                var seenTrace = false
                for f in head.fields {
                    if f.kind == .connection {
                        for token in ConnectionTokens(p, f).others {
                            if ["content-length", "transfer-encoding", "host"].contains(token) { continue }
                            named.append(Array(token.utf8))
                        }
                    } else if f.kind == .traceparent, !seenTrace {
                        seenTrace = true
                        traceOK = isSaneTraceparent(UnsafeRawBufferPointer(rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)]))
                    }
                }

                // Request line.
                out.bytes(UnsafeRawBufferPointer(rebasing: p[head.methodRange]))
                out.byte(UInt8(ascii: " "))
                if !input.basePath.isEmpty { out.string(input.basePath) }
                var target = head.targetRange
                if let prefix = input.strippedPrefix, target.count >= prefix.utf8.count,
                    prefix.utf8.elementsEqual(UnsafeRawBufferPointer(rebasing: p[target.lowerBound..<(target.lowerBound + prefix.utf8.count)]))
                {
                    target = (target.lowerBound + prefix.utf8.count)..<target.upperBound
                    if target.isEmpty || p[target.lowerBound] == UInt8(ascii: "?") { out.byte(UInt8(ascii: "/")) }
                }
                out.bytes(UnsafeRawBufferPointer(rebasing: p[target]))
                out.staticString(" HTTP/1.1\r\n")

                var priorForwardedFor: [UnsafeRawBufferPointer] = []
                var clientHostLine: Range<Int>?
                for f in head.fields where !f.dropped {
                    switch f.kind {
                    case .contentLength, .transferEncoding, .expect, .xRequestID, .xForwardedProto, .xForwardedHost:
                        continue
                    case .host:
                        clientHostLine = Int(f.valueStart)..<Int(f.valueEnd)
                        continue
                    case .xForwardedFor:
                        priorForwardedFor.append(UnsafeRawBufferPointer(rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)]))
                        continue
                    case .authorization where input.dropAuthorization:
                        continue
                    case .traceparent, .tracestate:
                        if !traceOK || input.trace != nil { continue }
                    default:
                        if f.kind.isHopByHop { continue }
                    }
                    let name = UnsafeRawBufferPointer(rebasing: p[Int(f.nameStart)..<Int(f.nameEnd)])
                    if !named.isEmpty, named.contains(where: { n in n.count == name.count && zip(n, name).allSatisfy { $0 == HTTPBytes.lower($1) } }) {
                        continue
                    }
                    out.bytes(name)
                    out.staticString(": ")
                    out.bytes(UnsafeRawBufferPointer(rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)]))
                    out.crlf()
                }

                out.staticString("host: ")
                if input.preserveHost, let line = clientHostLine {
                    out.bytes(UnsafeRawBufferPointer(rebasing: p[line]))
                } else {
                    out.string(input.upstreamHost)
                }
                out.crlf()
                if input.websocket { out.staticString("connection: upgrade\r\nupgrade: websocket\r\n") }
                if let key = input.webSocketKey {
                    out.staticString("sec-websocket-key: ")
                    out.string(key)
                    out.crlf()
                }
                switch input.framing {
                case .chunked: out.staticString("transfer-encoding: chunked\r\n")
                case .length(let n):
                    out.staticString("content-length: ")
                    out.decimal(n)
                    out.crlf()
                case .none:
                    if head.method.usuallyHasBody { out.staticString("content-length: 0\r\n") }
                }
                if let parent = input.trace?.traceparent {
                    out.staticString("traceparent: ")
                    out.string(parent)
                    out.crlf()
                    if let state = input.trace?.tracestate {
                        out.staticString("tracestate: ")
                        out.string(state)
                        out.crlf()
                    }
                }
                input.propagated.withUnsafeReadableBytes { out.bytes($0) }
                input.assertion?.withUnsafeReadableBytes { out.bytes($0) }
                input.sessionLines?.withUnsafeReadableBytes { out.bytes($0) }
                if let ip = input.clientIP {
                    out.staticString("x-forwarded-for: ")
                    for prior in priorForwardedFor {
                        out.bytes(prior)
                        out.staticString(", ")
                    }
                    out.string(ip)
                    out.crlf()
                } else if !priorForwardedFor.isEmpty {
                    out.staticString("x-forwarded-for: ")
                    for (i, prior) in priorForwardedFor.enumerated() {
                        if i > 0 { out.staticString(", ") }
                        out.bytes(prior)
                    }
                    out.crlf()
                }
                out.staticString("x-forwarded-proto: ")
                out.string(input.scheme)
                out.crlf()
                if let host = input.clientHost {
                    out.staticString("x-forwarded-host: ")
                    out.string(host)
                    out.crlf()
                }
                out.staticString("x-request-id: ")
                input.requestID.write(into: &out)
                out.crlf()
                out.crlf()
            }
        }
    }

    /// W3C trace context: passed on only when well-formed (`00-<32 hex>-<16 hex>-<2 hex>`).
    static func isSaneTraceparent(_ value: UnsafeRawBufferPointer) -> Bool {
        guard value.count == 55 else { return false }
        for (i, b) in value.enumerated() {
            if i == 2 || i == 35 || i == 52 {
                if b != UInt8(ascii: "-") { return false }
            } else if !((b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66)) {
                return false
            }
        }
        return true
    }
}
