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
    }

    static func write(_ input: Input, into out: inout ByteBuffer) {
        let head = input.head
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
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[head.methodRange]))
            out.writeInteger(UInt8(ascii: " "))
            if !input.basePath.isEmpty { out.writeString(input.basePath) }
            var target = head.targetRange
            if let prefix = input.strippedPrefix, target.count >= prefix.utf8.count,
                prefix.utf8.elementsEqual(UnsafeRawBufferPointer(rebasing: p[target.lowerBound..<(target.lowerBound + prefix.utf8.count)]))
            {
                target = (target.lowerBound + prefix.utf8.count)..<target.upperBound
                if target.isEmpty || p[target.lowerBound] == UInt8(ascii: "?") { out.writeInteger(UInt8(ascii: "/")) }
            }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: p[target]))
            out.writeStaticString(" HTTP/1.1\r\n")

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
                    if !traceOK { continue }
                default:
                    if f.kind.isHopByHop { continue }
                }
                let name = UnsafeRawBufferPointer(rebasing: p[Int(f.nameStart)..<Int(f.nameEnd)])
                if !named.isEmpty, named.contains(where: { n in n.count == name.count && zip(n, name).allSatisfy { $0 == HTTPBytes.lower($1) } }) {
                    continue
                }
                out.writeBytes(name)
                out.writeStaticString(": ")
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)]))
                out.writeCRLF()
            }

            out.writeStaticString("host: ")
            if input.preserveHost, let line = clientHostLine {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: p[line]))
            } else {
                out.writeString(input.upstreamHost)
            }
            out.writeCRLF()
            switch input.framing {
            case .chunked: out.writeStaticString("transfer-encoding: chunked\r\n")
            case .length(let n):
                out.writeStaticString("content-length: ")
                out.writeDecimal(n)
                out.writeCRLF()
            case .none:
                if head.method.usuallyHasBody { out.writeStaticString("content-length: 0\r\n") }
            }
            var lines = input.propagated
            out.writeBuffer(&lines)
            if var assertion = input.assertion { out.writeBuffer(&assertion) }
            if var sessions = input.sessionLines { out.writeBuffer(&sessions) }
            if let ip = input.clientIP {
                out.writeStaticString("x-forwarded-for: ")
                for prior in priorForwardedFor {
                    out.writeBytes(prior)
                    out.writeStaticString(", ")
                }
                out.writeString(ip)
                out.writeCRLF()
            } else if !priorForwardedFor.isEmpty {
                out.writeStaticString("x-forwarded-for: ")
                for (i, prior) in priorForwardedFor.enumerated() {
                    if i > 0 { out.writeStaticString(", ") }
                    out.writeBytes(prior)
                }
                out.writeCRLF()
            }
            out.writeStaticString("x-forwarded-proto: ")
            out.writeString(input.scheme)
            out.writeCRLF()
            if let host = input.clientHost {
                out.writeStaticString("x-forwarded-host: ")
                out.writeString(host)
                out.writeCRLF()
            }
            out.writeStaticString("x-request-id: ")
            input.requestID.write(into: &out)
            out.writeCRLF()
            out.writeCRLF()
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
