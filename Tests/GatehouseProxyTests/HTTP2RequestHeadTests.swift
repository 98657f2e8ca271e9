import NIOCore
import Testing

@testable import GatehouseProxy

/// The head of an HTTP/2 request, built from its decoded fields without any HTTP/1.1 text: the
/// same shape, the same rules, and the same upstream head as the HTTP/1.1 request with the same fields.
@Suite struct HTTP2RequestHeadTests {
    static func build(
        _ fields: [(String, String)], endStream: Bool = true, maxListBytes: Int = 32768
    ) -> Result<HTTP2RequestHeadBuilder.Built, HTTP2RequestHeadBuilder.Failure> {
        var builder = HTTP2RequestHeadBuilder(maxListBytes: maxListBytes, allocator: ByteBufferAllocator())
        for (name, value) in fields {
            var n = name
            var v = value
            n.withUTF8 { np in v.withUTF8 { vp in builder.add(name: UnsafeRawBufferPointer(np), value: UnsafeRawBufferPointer(vp)) } }
        }
        return builder.build(endStream: endStream)
    }

    static let pseudo = [(":method", "GET"), (":scheme", "https"), (":authority", "acme.test"), (":path", "/t/acme/x?y=1")]

    static func head(_ fields: [(String, String)], endStream: Bool = true) throws -> HTTP2RequestHeadBuilder.Built {
        switch build(fields, endStream: endStream) {
        case .success(let built): return built
        case .failure(let failure): throw failure
        }
    }

    static func failure(_ fields: [(String, String)], endStream: Bool = true, maxListBytes: Int = 32768) -> HTTP2RequestHeadBuilder.Failure? {
        if case .failure(let f) = build(fields, endStream: endStream, maxListBytes: maxListBytes) { return f }
        return nil
    }

    @Test func fieldsBecomeAHeadWithSpansAndKinds() throws {
        let built = try Self.head(Self.pseudo + [("authorization", "Bearer abc"), ("x_user_id", "mallory"), ("accept", "*/*")])
        let head = built.head
        #expect(head.method == .get && head.methodName == "GET" && head.target == "/t/acme/x?y=1")
        #expect(!head.isHTTP10)
        #expect(built.framing == .none && !built.isWebSocket)
        let named = head.fields.map { (head.name($0), head.value($0), $0.kind) }
        #expect(named.map(\.0) == ["authorization", "x_user_id", "accept", "host"])
        #expect(named[0].2 == .authorization && named[3].2 == .host && named[3].1 == "acme.test")
        #expect(head.fields[1].hasUnderscore && head.fields[1].foldedHash == HTTPBytes.foldedHash("x-user-id".utf8))
    }

    @Test func authorityAndHostMustAgree() throws {
        let agree = try Self.head(Self.pseudo + [("host", "ACME.test")])
        #expect(agree.head.count(.host) == 1 && agree.head.value(agree.head.first(.host)!) == "acme.test", "one host field: the authority")
        #expect(Self.failure(Self.pseudo + [("host", "globex.test")]) == .malformed(":authority and host disagree"))
        #expect(Self.failure(Self.pseudo + [("host", "acme.test"), ("host", "acme.test")]) != nil)
        let hostOnly = try Self.head([(":method", "GET"), (":scheme", "http"), (":path", "/"), ("host", "h.test")])
        #expect(hostOnly.head.value(hostOnly.head.first(.host)!) == "h.test")
        #expect(Self.failure([(":method", "GET"), (":scheme", "http"), (":path", "/")]) == .malformed("no :authority or host"))
    }

    @Test func cookiesAreJoinedIntoOneField() throws {
        let built = try Self.head(Self.pseudo + [("cookie", "a=1"), ("accept", "*/*"), ("cookie", "b=2")])
        let cookies = built.head.fields.filter { $0.kind == .cookie }
        #expect(cookies.count == 1 && built.head.value(cookies[0]) == "a=1; b=2")
    }

    @Test func malformedFieldsAreRefused() {
        for bad in [("X-Upper", "v"), ("bad name", "v"), ("x", "a\r\nb"), ("x", "a\u{0}b"), ("x", " padded"), ("x", "padded\t"), ("x", "del\u{7F}")] {
            #expect(Self.failure(Self.pseudo + [bad]) != nil, "\(bad) was accepted")
        }
        // Pseudo-fields come first, once each, and only the known ones.
        #expect(Self.failure([(":method", "GET"), ("accept", "*/*"), (":path", "/"), (":scheme", "http"), (":authority", "a")]) != nil)
        #expect(Self.failure(Self.pseudo + [(":path", "/again")]) != nil)
        #expect(Self.failure(Self.pseudo + [(":status", "200")]) != nil)
        #expect(Self.failure([(":method", "GET"), (":authority", "a")]) == .malformed("no :path or :scheme"))
        // A value of every allowed kind of byte goes through, eight at a time or one by one.
        let fine = "tab\there, obs-text \u{E9}, punctuation !#$%&'()*+,-./:;<=>?@[]^_`{|}~"
        #expect(Self.failure(Self.pseudo + [("x", fine)]) == nil)
    }

    @Test func controlBytesAreRefusedAtEveryPositionOfAValue() {
        for position in 0..<20 {
            for byte: UInt8 in [0x00, 0x01, 0x0A, 0x0D, 0x1F, 0x7F] {
                var value = Array(repeating: UInt8(ascii: "a"), count: 20)
                value[position] = byte
                let ok = value.withUnsafeBytes { HTTP2RequestHeadBuilder.isValidValue($0) }
                #expect(!ok, "byte \(byte) at \(position)")
            }
        }
    }

    @Test func aHeaderListOverTheLimitIsTooLargeWithoutBeingKept() {
        let many = (0..<1000).map { _ in ("x-bomb", String(repeating: "a", count: 100)) }
        #expect(Self.failure(Self.pseudo + many, maxListBytes: 16384) == .tooLarge)
        #expect(Self.failure(Self.pseudo + (0..<300).map { ("x-\($0)", "v") }) == .tooLarge, "more than 256 fields")
    }

    @Test func framingComesFromTheStreamAndContentLength() throws {
        #expect(try Self.head([(":method", "POST")] + Self.pseudo.dropFirst(), endStream: true).framing == .none)
        #expect(try Self.head([(":method", "POST")] + Self.pseudo.dropFirst() + [("content-length", "5")], endStream: false).framing == .length(5))
        #expect(try Self.head([(":method", "POST")] + Self.pseudo.dropFirst(), endStream: false).framing == .chunked)
        #expect(Self.failure([(":method", "POST")] + Self.pseudo.dropFirst() + [("content-length", "5x")], endStream: false) != nil)
        #expect(Self.failure([(":method", "POST")] + Self.pseudo.dropFirst() + [("content-length", "5"), ("content-length", "5")], endStream: false) != nil)
        #expect(Self.failure([(":method", "TRACE")] + Self.pseudo.dropFirst(), endStream: false) != nil)
    }

    @Test func onlyExtendedConnectForWebSocketIsAccepted() throws {
        let ws = try Self.head([(":method", "CONNECT"), (":protocol", "websocket")] + Self.pseudo.dropFirst() + [("sec-websocket-version", "13")], endStream: false)
        #expect(ws.isWebSocket && ws.head.method == .get && ws.head.methodName == "GET" && ws.framing == .none)
        #expect(Self.failure([(":method", "CONNECT"), (":authority", "acme.test:443")], endStream: false) == .malformed("CONNECT is not supported"))
        #expect(Self.failure([(":method", "CONNECT"), (":protocol", "h2c")] + Self.pseudo.dropFirst(), endStream: false) != nil)
        #expect(Self.failure([(":protocol", "websocket")] + Self.pseudo, endStream: false) != nil)
    }

    /// Differential: an HTTP/2 request and the HTTP/1.1 request with the same fields make the
    /// same upstream head, byte for byte.
    @Test func theUpstreamHeadIsTheSameAsForHTTP1() throws {
        let fields = [
            ("authorization", "Bearer abc"), ("x-user-id", "mallory"), ("accept", "*/*"), ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("x-forwarded-for", "203.0.113.9"), ("content-type", "application/json"), ("te", "trailers"), ("x-request-id", "r-1"),
        ]
        for (method, endStream, length) in [("GET", true, nil as Int?), ("POST", false, 7), ("POST", false, nil)] {
            var h2Fields = [(":method", method), (":scheme", "https"), (":authority", "acme.test"), (":path", "/t/acme/x?y=1")] + fields
            if let length { h2Fields.append(("content-length", String(length))) }
            let h2 = try Self.head(h2Fields, endStream: endStream)

            var text = "\(method) /t/acme/x?y=1 HTTP/1.1\r\n"
            for (name, value) in fields { text += "\(name): \(value)\r\n" }
            if let length { text += "content-length: \(length)\r\n" } else if !endStream { text += "transfer-encoding: chunked\r\n" }
            text += "host: acme.test\r\n\r\n"
            var buffer = ByteBuffer(string: text)
            var parser = RequestHeadParser(maxHeadBytes: 65536)
            guard case .complete(let n) = parser.parse(buffer) else {
                Issue.record("the HTTP/1.1 text did not parse")
                return
            }
            var h1 = parser.take(length: n, from: &buffer)
            let h1Framing = try h1.framing().get()
            #expect(h1Framing == h2.framing)

            func upstream(_ head: RequestHead, _ framing: RequestFraming) -> String {
                var h = head
                for i in h.fields.indices where h.fields[i].kind == .other && h.name(h.fields[i]) == "x-user-id" { h.fields[i].dropped = true }
                let input = UpstreamHead.Input(
                    head: h, framing: framing, strippedPrefix: "/t/acme", basePath: "", upstreamHost: "127.0.0.1:7001", preserveHost: false,
                    dropAuthorization: false, propagated: ByteBuffer(string: "X-User-Id: alice\r\n"), assertion: nil, sessionLines: nil,
                    clientIP: "192.0.2.1", scheme: "https", clientHost: "acme.test", requestID: .client(Array("r-1".utf8)))
                var out = ByteBuffer()
                UpstreamHead.write(input, into: &out)
                return String(buffer: out)
            }
            let fromH1 = upstream(h1, h1Framing)
            let fromH2 = upstream(h2.head, h2.framing)
            #expect(fromH1 == fromH2, "\(method):\nHTTP/1.1 gave\n\(fromH1)\nHTTP/2 gave\n\(fromH2)")
            #expect(fromH2.hasPrefix("\(method) /x?y=1 HTTP/1.1\r\n") && fromH2.contains("X-User-Id: alice\r\n"), "\(fromH2)")
            #expect(!fromH2.contains("mallory") && !fromH2.lowercased().contains("te: trailers"))
            parser.recycle(&h1)
        }
    }
}
