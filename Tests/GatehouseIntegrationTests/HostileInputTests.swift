import GatehouseCore
import Testing

/// Every network input is hostile (docs/request-path.md "Token validation", docs/status-codes.md "What Gatehouse answers itself"): garbage gets a clear status, never a crash,
/// and never reaches an upstream.
@Suite(.serialized) struct HostileInputTests {
    static let garbage: [String] = [
        "GARBAGE\r\n\r\n",
        "GET http://evil.example/t/acme/x HTTP/1.1\r\nHost: evil.example\r\n\r\n",
        "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /t/acme/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /t/acme/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n",
        "GET /t/acme/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n",
        "GET /t/acme/x HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n",
        "GET /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer a.b.c\r\nAuthorization: Bearer d.e.f\r\n\r\n",
        "GET /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \r\n\r\n",
        "GET /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer eyJ%00.eyJ.sig\r\n\r\n",
        "GET /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ....\r\n\r\n",
        "GET /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + String(repeating: "e", count: 20000) + "\r\n\r\n",
        "GET /t/acme/x HTTP/1.1\r\nHost: localhost\r\n" + String(repeating: "X-A: b\r\n", count: 5000) + "\r\n",
        "GET /" + String(repeating: "a", count: 70000) + " HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ]

    @Test func garbageNeverCrashesAndNeverReachesAnUpstream() async throws {
        try await withHarness { h in
            for (i, request) in Self.garbage.enumerated() {
                let text = try await h.client.sendReadingUntilClose(request + "GET /t/acme/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", timeout: 5)
                let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
                #expect((400..<500).contains(status), "garbage #\(i) answered \(status)")
            }
            #expect(h.upstreamRequests.isEmpty)
            // Still serving.
            let ok = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token())])
            #expect(ok.status == 200)
        }
    }

    @Test func hostileTokenPayloadsAre401() async throws {
        try await withHarness { h in
            let nested = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
            let payloads = [
                #"{"alg":"RS256","kid":"x"}"#, "[]", "null", nested, #"{"iss":1}"#, "\u{FEFF}{}", #"{"a":"\ud800"}"#,
            ]
            for p in payloads {
                let token = Base64URL.encode(#"{"alg":"RS256"}"#) + "." + Base64URL.encode(p) + ".c2ln"
                let r = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(token)])
                #expect(r.status == 401, "payload \(p.prefix(20)) answered \(r.status)")
            }
            #expect(h.upstreamRequests.isEmpty)
        }
    }
}

@Suite(.serialized) struct HostileFramingTests {
    /// Gatehouse answers a request (here 401) before its body arrives; a framing error in that
    /// body must not produce a second, unsolicited response on the same connection.
    @Test func aBrokenBodyAfterAnAnswerNeverGetsASecondResponse() async throws {
        try await withHarness { h in
            let text = try await h.client.sendReadingUntilClose(
                "POST /t/acme/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n")
            #expect(text.components(separatedBy: "HTTP/1.1 ").count - 1 == 1, "responses: \(text)")
            #expect(text.hasPrefix("HTTP/1.1 401"))
        }
    }

    /// A request routed by its token's issuer keeps its path as sent: a tenant's path prefix is
    /// stripped only when the prefix is what matched (on a segment boundary).
    @Test func issuerRoutedPathsAreNotCutByALookalikePrefix() async throws {
        try await withHarness { h in
            let r = try await h.client.request("GET", "/t/acmex/y", headers: [h.bearer(h.token(tenant: "acme"))])
            #expect(r.status == 200)
            #expect(h.acme.flatMap { $0.received() }.first?.uri == "/t/acmex/y")
        }
    }
}
