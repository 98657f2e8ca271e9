import NIOCore
import Testing

@testable import GatehouseProxy

/// The HTTP/1.1 data plane end to end over embedded channels: bytes in, bytes upstream, bytes back.
@Suite(.serialized) struct HTTP1ConnectionTests {
    static let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVzLW9mLWEtdG9rZW4"

    @Test func aRequestIsForwardedWithItsIdentityAndTheAnswerRelayed() throws {
        let p = try EmbeddedProxy()
        p.trust(Self.token)
        try p.send(
            "GET /t/acme/tools?x=1 HTTP/1.1\r\nHost: gw.example\r\nAuthorization: Bearer \(Self.token)\r\nX-User-Id: mallory\r\n"
                + "x_user_id: mallory\r\nX-Request-Id: req-1\r\nAccept: */*\r\n\r\n")
        let up = try p.forwarded()
        #expect(up.hasPrefix("GET /tools?x=1 HTTP/1.1\r\n"), "\(up)")
        #expect(!up.contains("mallory"), "a spoofed identity went upstream: \(up)")
        #expect(up.contains("X-User-Id: alice\r\n") && up.contains("X-Tenant-Id: acme\r\n"))
        #expect(up.contains("host: 127.0.0.1:18081\r\n"))
        #expect(up.contains("x-forwarded-for: 192.0.2.7\r\n") && up.contains("x-forwarded-host: gw.example\r\n"))
        #expect(up.contains("x-request-id: req-1\r\n") && up.contains("Accept: */*\r\n"))
        #expect(up.hasSuffix("\r\n\r\n") && !up.contains("content-length"), "a GET without body has no framing: \(up)")
        try p.answer("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nServer: up \r\nContent-Length: 2\r\n\r\nok")
        let got = try p.received()
        #expect(got.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(got)")
        #expect(got.contains("Server: up\r\n") && got.contains("Content-Length: 2\r\n") && got.contains("x-request-id: req-1\r\n"))
        #expect(got.hasSuffix("\r\n\r\nok"))

        // Keep-alive both ways: the next request goes out on the same pooled upstream connection.
        try p.send("GET /t/acme/again HTTP/1.1\r\nHost: gw.example\r\nAuthorization: Bearer \(Self.token)\r\n\r\n")
        #expect(try p.forwarded().hasPrefix("GET /again HTTP/1.1\r\n"))
        try p.answer("HTTP/1.1 204 No Content\r\n\r\n")
        #expect(try p.received().hasPrefix("HTTP/1.1 204 No Content\r\n"))
    }

    @Test func pipelinedRequestsAreServedOneAfterTheOther() throws {
        let p = try EmbeddedProxy()
        p.trust(Self.token)
        let one = "GET /t/acme/1 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer \(Self.token)\r\n\r\n"
        let two = "GET /t/acme/2 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer \(Self.token)\r\n\r\n"
        try p.send(one + two)
        let first = try p.forwarded()
        #expect(first.hasPrefix("GET /1 ") && !first.contains("GET /2"), "the second request waits for the first response: \(first)")
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
        #expect(try p.forwarded().hasPrefix("GET /2 "))
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
        let got = try p.received()
        #expect(got.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        #expect(got.hasSuffix("a") == false && got.hasSuffix("b"))
    }

    /// Heads are copied with `": "` after every name, one byte more than a field written
    /// `Name:value`: a head of many such fields, each way, is copied whole (the writer's
    /// reservation counts that byte per field).
    @Test func headsOfManyFieldsWithoutSpacesAreCopiedWhole() throws {
        let p = try EmbeddedProxy()
        p.trust(Self.token)
        let fields = (0..<250).map { "F\($0):v\r\n" }.joined()
        try p.send("GET /t/acme/many HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer \(Self.token)\r\n\(fields)\r\n")
        let up = try p.forwarded()
        #expect(up.contains("F0: v\r\n") && up.contains("F249: v\r\n"), "\(up.prefix(200))")
        try p.answer("HTTP/1.1 200 OK\r\n" + (0..<250).map { "R\($0):v\r\n" }.joined() + "Content-Length: 0\r\n\r\n")
        let got = try p.received()
        #expect(got.hasPrefix("HTTP/1.1 200 OK\r\n") && got.contains("R0: v\r\n") && got.contains("R249: v\r\n"))
    }

    @Test func noTokenIs401AndNothingGoesUpstream() throws {
        let p = try EmbeddedProxy()
        try p.send("GET /t/acme/x HTTP/1.1\r\nHost: gw\r\n\r\n")
        let got = try p.received()
        #expect(got.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"), "\(got)")
        #expect(got.contains("WWW-Authenticate: Bearer realm=\"gatehouse\"") || got.contains("www-authenticate: Bearer realm=\"gatehouse\""))
        #expect(try p.forwarded().isEmpty)
    }

    @Test func chunkedBodiesAreReframedBothWays() throws {
        let p = try EmbeddedProxy()
        p.trust(Self.token)
        try p.send(
            "POST /t/acme/u HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer \(Self.token)\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;ext=1\r\nhello\r\n0\r\nX-Trailer: no\r\n\r\n")
        let up = try p.forwarded()
        #expect(up.contains("transfer-encoding: chunked\r\n"))
        #expect(up.hasSuffix("\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "chunk extensions and trailers are not forwarded: \(up.debugDescription)")
        try p.answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        let got = try p.received()
        #expect(got.contains("Transfer-Encoding: chunked\r\n"))
        #expect(got.hasSuffix("\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), "\(got.debugDescription)")
    }

    @Test func anHTTP10ClientGetsAnUnframedBodyAndAClose() throws {
        let p = try EmbeddedProxy()
        p.trust(Self.token)
        try p.send("GET /t/acme/x HTTP/1.0\r\nAuthorization: Bearer \(Self.token)\r\n\r\n")
        _ = try p.forwarded()
        try p.answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        let got = try p.received()
        #expect(got.contains("Connection: close\r\n") && !got.contains("Transfer-Encoding"), "\(got)")
        #expect(got.hasSuffix("\r\n\r\nabc"))
        #expect(!p.client.isActive)
    }

    @Test func anAmbiguousResponseIs502AndItsConnectionIsNotReused() throws {
        let p = try EmbeddedProxy()
        p.trust(Self.token)
        try p.send("GET /t/acme/x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer \(Self.token)\r\n\r\n")
        _ = try p.forwarded()
        try p.answer("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        #expect(try p.received().hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(!p.upstream.isActive, "the upstream connection was closed")
    }

    @Test func expectContinueIsAnsweredOnceRouted() throws {
        let p = try EmbeddedProxy()
        p.trust(Self.token)
        try p.send("POST /t/acme/x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer \(Self.token)\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        #expect(try p.received() == "HTTP/1.1 100 Continue\r\n\r\n")
        let head = try p.forwarded()
        #expect(head.contains("content-length: 3\r\n") && !head.lowercased().contains("expect"))
        try p.send("abc")
        #expect(try p.forwarded() == "abc")
    }
}
