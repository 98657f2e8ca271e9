import GatehouseCore
import NIOCore
import NIOPosix
import Testing

/// Request smuggling and framing, from raw bytes (docs/http.md "Framing"): a valid user must never
/// be able to put a request of their own making — with an identity of their choosing — on an
/// upstream connection, and nothing of a request whose framing is refused reaches an upstream.
@Suite(.serialized) struct SmugglingTests {
    /// What an attacker hides in a body: a complete request claiming someone else's identity.
    static let smuggled =
        "GET /t/acme/admin HTTP/1.1\r\nHost: localhost\r\nX-User-Id: mallory\r\nX-Tenant-Id: mallory-corp\r\nX-Gatehouse-Assertion: mallory\r\n\r\n"

    func status(_ text: String) -> Int { Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0 }

    /// Each upstream request head must be one the client's request became, never one of mallory's.
    func expectNoSmuggledRequest(_ upstream: RawUpstream, expected: Int, _ comment: Comment) {
        let heads = upstream.connections.flatMap { RawUpstream.requests(in: $0) }
        #expect(heads.count == expected, "\(comment): upstream read \(heads.count) requests: \(upstream.text)")
        #expect(!heads.contains { $0.lowercased().contains("mallory") }, "\(comment): a smuggled identity reached the upstream: \(upstream.text)")
    }

    @Test(arguments: ["GET", "DELETE", "POST"])
    func connectionCannotRemoveContentLength(method: String) async throws {
        try await withRawUpstream { h, upstream in
            let token = h.token()
            // Twice on one connection: the pooled upstream connection is where a smuggled request would wait.
            for _ in 0..<2 {
                let request =
                    "\(method) /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\n"
                    + "Content-Length: \(Self.smuggled.utf8.count)\r\nConnection: close, Content-Length\r\n\r\n\(Self.smuggled)"
                let text = try await h.client.sendReadingUntilClose(request)
                #expect(status(text) == 200, "\(text)")
            }
            expectNoSmuggledRequest(upstream, expected: 2, "Connection: close, Content-Length")
            let heads = upstream.connections.flatMap { RawUpstream.requests(in: $0) }
            #expect(heads.allSatisfy { $0.lowercased().contains("content-length: \(Self.smuggled.utf8.count)") }, "\(upstream.text)")
        }
    }

    @Test(arguments: ["GET", "DELETE", "POST"])
    func connectionCannotRemoveTransferEncoding(method: String) async throws {
        try await withRawUpstream { h, upstream in
            let token = h.token()
            let chunk = String(Self.smuggled.utf8.count, radix: 16) + "\r\n" + Self.smuggled + "\r\n0\r\n\r\n"
            for _ in 0..<2 {
                let request =
                    "\(method) /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\n"
                    + "Transfer-Encoding: chunked\r\nConnection: close, Transfer-Encoding\r\n\r\n\(chunk)"
                let text = try await h.client.sendReadingUntilClose(request)
                #expect(status(text) == 200, "\(text)")
            }
            expectNoSmuggledRequest(upstream, expected: 2, "Connection: close, Transfer-Encoding")
        }
    }

    @Test func aTraceWithABodyIsRefusedAndNothingReachesTheUpstream() async throws {
        try await withRawUpstream { h, upstream in
            let token = h.token()
            let chunk = String(Self.smuggled.utf8.count, radix: 16) + "\r\n" + Self.smuggled + "\r\n0\r\n\r\n"
            let requests = [
                "TRACE /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\nContent-Length: \(Self.smuggled.utf8.count)\r\n\r\n\(Self.smuggled)",
                "TRACE /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\nTransfer-Encoding: chunked\r\n\r\n\(chunk)",
            ]
            for request in requests {
                let text = try await h.client.sendReadingUntilClose(request)
                #expect(status(text) == 400, "\(text)")
                #expect(text.components(separatedBy: "HTTP/1.1 ").count - 1 == 1, "one answer, then the connection closes: \(text)")
            }
            #expect(upstream.totalBytes == 0, "\(upstream.text)")
            // A TRACE without a body is forwarded as any other request.
            let plain = try await h.client.request("TRACE", "/t/acme/x", headers: [h.bearer(token)])
            #expect(plain.status == 200)
            expectNoSmuggledRequest(upstream, expected: 1, "plain TRACE")
        }
    }

    static let refusedCodings = [
        "xchunked", "gzip", "chunkedx", "identity", "chunk", "\"chunked\"", "chunked\t", "chunked;foo=bar", "chunked, chunked",
        "chunked,", ",chunked", "chunked, gzip",
    ]

    @Test(arguments: refusedCodings)
    func aRefusedTransferEncodingSendsNothingUpstream(coding: String) async throws {
        try await withRawUpstream { h, upstream in
            let request =
                "POST /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(h.token())\r\nTransfer-Encoding: \(coding)\r\n\r\n"
                + "5\r\nhello\r\n0\r\n\r\n"
            let text = try await h.client.sendReadingUntilClose(request + "GET /t/acme/y HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(status(text) == 400, "\(coding.debugDescription): \(text)")
            #expect(text.components(separatedBy: "HTTP/1.1 ").count - 1 == 1, "closed after the answer: \(text)")
            #expect(upstream.totalBytes == 0, "\(coding.debugDescription) reached the upstream: \(upstream.text)")
        }
    }

    @Test func twoChunkedHeadersAreRefused() async throws {
        try await withRawUpstream { h, upstream in
            let request =
                "POST /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(h.token())\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            let text = try await h.client.sendReadingUntilClose(request)
            #expect(status(text) == 400, "\(text)")
            #expect(upstream.totalBytes == 0)
        }
    }

    @Test func aTransferCodingBeforeChunkedIs501AndNotForwarded() async throws {
        try await withRawUpstream { h, upstream in
            let request =
                "POST /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(h.token())\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                + "5\r\nhello\r\n0\r\n\r\n"
            let text = try await h.client.sendReadingUntilClose(request)
            #expect(status(text) == 501, "\(text)")
            #expect(text.contains("not_implemented"))
            #expect(upstream.totalBytes == 0, "\(upstream.text)")
        }
    }

    @Test func http10WithTransferEncodingIsRefusedAndTheConnectionClosed() async throws {
        try await withRawUpstream { h, upstream in
            let token = h.token()
            let request =
                "POST /t/acme/x HTTP/1.0\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\nhello\r\n0\r\n\r\n"
                + "GET /t/acme/y HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\n\r\n"
            let text = try await h.client.sendReadingUntilClose(request)
            #expect(status(text) == 400, "\(text)")
            #expect(text.components(separatedBy: "HTTP/1.1 ").count - 1 == 1, "nothing after the refused request is read: \(text)")
            #expect(upstream.totalBytes == 0, "\(upstream.text)")
        }
    }

    @Test func http11WithoutHostIs400() async throws {
        try await withRawUpstream { h, upstream in
            let text = try await h.client.sendReadingUntilClose(
                "GET /t/acme/x HTTP/1.1\r\nAuthorization: Bearer \(h.token())\r\n\r\n")
            #expect(status(text) == 400, "\(text)")
            #expect(text.contains("missing Host"))
            #expect(upstream.totalBytes == 0)
            // HTTP/1.0 needs no Host.
            let old = try await h.client.sendReadingUntilClose("GET /t/acme/x HTTP/1.0\r\nAuthorization: Bearer \(h.token())\r\n\r\n")
            #expect(status(old) == 200, "\(old)")
        }
    }

    static let badTargetCharacters = ["\\", "\"", "<", ">", "^", "`", "{", "}", "|", "%zz", "%4", "#frag"]

    /// A target the upstream side could not encode is the client's error: 400 before routing, and
    /// no instance is blamed (before, each such request put an instance out of rotation for seconds).
    @Test func requestTargetCharactersAreTheClientsError() async throws {
        try await withHarness { h in
            let token = h.token()
            for c in Self.badTargetCharacters {
                let text = try await h.client.sendReadingUntilClose("GET /t/acme/a\(c) HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\n\r\n")
                #expect(status(text) == 400, "\(c): \(text)")
            }
            #expect(h.upstreamRequests.isEmpty)
            // Both acme instances are still in rotation: four requests reach both of them.
            for _ in 0..<4 {
                let ok = try await h.client.request("GET", "/t/acme/ok", headers: [h.bearer(token)])
                #expect(ok.status == 200)
            }
            #expect(h.acme.allSatisfy { !$0.received().isEmpty }, "an instance was taken out of rotation")
            // What RFC 3986 allows passes, brackets and percent-encodings included.
            let fine = try await h.client.request("GET", "/t/acme/a%20b;c=d@e:f/g?h=[1]&i=~!$'()*+,", headers: [h.bearer(token)])
            #expect(fine.status == 200)
        }
    }

    /// Trailers of a chunked request are never turned into headers upstream (they are dropped).
    @Test func requestTrailersDoNotReachTheUpstream() async throws {
        try await withRawUpstream { h, upstream in
            let request =
                "POST /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(h.token())\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + "5\r\nhello\r\n0\r\nX-User-Id: mallory\r\n\r\n"
            let text = try await h.client.sendReadingUntilClose(request)
            #expect(status(text) == 200, "\(text)")
            expectNoSmuggledRequest(upstream, expected: 1, "trailers")
            #expect(!upstream.text.contains("mallory"), "\(upstream.text)")
        }
    }
}
