import GatehouseCore
import Testing

/// HTTP/2 clients that misbehave, from raw frames (docs/http.md "HTTP/2"): connection errors end
/// the connection, resets cost the upstream nothing, and `:authority` is what routes.
@Suite(.serialized) struct HTTP2HardeningTests {
    @Test func authorityAndHostThatDisagreeAreRefused() async throws {
        try await withHarness { h in
            let client = try RawHTTP2Client(port: h.gatehouse.dataPort)
            let globex = "Bearer " + h.token("bob", tenant: "globex")
            let acme = "Bearer " + h.token("alice", tenant: "acme")
            try client.send([
                // :authority names acme, host names globex (whose token this is): refused.
                try client.request(stream: 1, path: "/x", authority: "acme.test", headers: [("host", "globex.test"), ("authorization", globex)]),
                // Only :authority: routed by it.
                try client.request(stream: 3, path: "/y", authority: "acme.test", headers: [("authorization", acme)]),
                // Both, agreeing (letter case aside): fine.
                try client.request(stream: 5, path: "/z", authority: "acme.test", headers: [("host", "ACME.test"), ("authorization", acme)]),
            ])
            let frames = await client.read { frames in Set(frames.filter { $0.stream != 0 && $0.flags & H2Frame.endStream != 0 }.map(\.stream)).count == 3 }
            let statuses = try client.statuses(frames)
            #expect(statuses[1] == 400, "\(statuses)")
            #expect(statuses[3] == 200, "\(statuses)")
            #expect(statuses[5] == 200, "\(statuses) \(frames.map { ($0.stream, $0.type, $0.flags, $0.errorCode ?? 0) })")
            #expect(h.globex.received().isEmpty, "the request went to the tenant its host header named")
            #expect(h.acme.flatMap { $0.received() }.map(\.uri).sorted() == ["/y", "/z"])
        }
    }

    /// Connection-specific fields make an HTTP/2 request malformed (RFC 9113 8.2.2): a stream
    /// error, and nothing forwarded; `te: trailers` is the one allowed.
    @Test func connectionSpecificHeadersAreAStreamError() async throws {
        try await withHarness { h in
            let client = try RawHTTP2Client(port: h.gatehouse.dataPort)
            let auth = ("authorization", "Bearer " + h.token())
            let forbidden: [(String, String)] = [
                ("connection", "keep-alive"), ("transfer-encoding", "chunked"), ("keep-alive", "5"), ("upgrade", "websocket"),
                ("proxy-connection", "keep-alive"), ("te", "gzip"),
            ]
            var frames: [H2Frame] = []
            for (i, field) in forbidden.enumerated() {
                frames.append(try client.request(stream: UInt32(1 + 2 * i), path: "/t/acme/bad", headers: [auth, field]))
            }
            let fine = UInt32(1 + 2 * forbidden.count)
            frames.append(try client.request(stream: fine, path: "/t/acme/fine", headers: [auth, ("te", "trailers")]))
            try client.send(frames)
            let seen = await client.read { frames in
                Set(frames.filter { $0.stream != 0 && ($0.kind == .rstStream || $0.flags & H2Frame.endStream != 0) }.map(\.stream)).count
                    == forbidden.count + 1
            }
            let reset = Set(seen.filter { $0.kind == .rstStream }.map(\.stream))
            let expected: Set<UInt32> = Set((0..<forbidden.count).map { UInt32(1 + 2 * $0) })
            let kinds: [String] = seen.map { "\($0.stream):\($0.type)" }
            #expect(reset == expected, "\(kinds)")
            #expect(try client.statuses(seen)[fine] == 200)
            #expect(h.acme.flatMap { $0.received() }.map(\.uri) == ["/fine"])
        }
    }

    /// Optional whitespace an HTTP/1.1 upstream leaves at the end of a value is not relayed:
    /// HTTP/2 forbids it, and strict clients reset the stream.
    @Test func responseValuesLoseTheirOptionalWhitespace() async throws {
        var options = RawUpstream.Options()
        options.response = "HTTP/1.1 200 OK\r\nServer: acceptance \r\nX-Pad: \t padded\t \r\nContent-Length: 2\r\n\r\nok"
        try await withRawUpstream(options) { h, _ in
            let client = try RawHTTP2Client(port: h.gatehouse.dataPort)
            try client.send([try client.request(stream: 1, path: "/t/acme/x", headers: [("authorization", "Bearer " + h.token())])])
            let frames = await client.read { $0.contains { $0.stream == 1 && $0.flags & H2Frame.endStream != 0 } }
            let head = try #require(frames.first { $0.kind == .headers && $0.stream == 1 })
            let fields = try client.decode(head)
            #expect(fields.first { $0.0 == ":status" }?.1 == "200")
            #expect(fields.first { $0.0 == "server" }?.1 == "acceptance", "\(fields)")
            #expect(fields.first { $0.0 == "x-pad" }?.1 == "padded", "\(fields)")

            let h1 = try await h.client.sendReadingUntilClose(
                "GET /t/acme/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(h.token())\r\nConnection: close\r\n\r\n")
            #expect(h1.contains("Server: acceptance\r\n") && h1.contains("X-Pad: padded\r\n"), "\(h1)")
        }
    }

    /// A header block that never ends (CONTINUATION flood) is a connection error: GOAWAY, then
    /// the connection is closed — not left open answering every later frame with another GOAWAY.
    @Test func aContinuationFloodEndsTheConnection() async throws {
        try await withHarness { h in
            let client = try RawHTTP2Client(port: h.gatehouse.dataPort)
            var head = try client.request(stream: 1, path: "/t/acme/x")
            head.flags = 0  // no END_HEADERS: CONTINUATION frames must follow
            let piece = try client.block((0..<8).map { ("x-flood-\($0)", String(repeating: "a", count: 200)) })
            await client.sendIgnoringClose([head] + Array(repeating: H2Frame(.continuation, stream: 1, payload: piece), count: 2000))
            let frames = await client.read(timeout: 10) { $0.contains { $0.kind == .goAway } }
            let goAway = try #require(frames.first { $0.kind == .goAway }, "\(frames.map(\.type))")
            #expect(goAway.errorCode != 0)
            #expect(await client.waitForClose(timeout: 5), "the connection stayed open after a connection error")
            #expect(h.upstreamRequests.isEmpty)
        }
    }

    @Test func moreStreamsThanAllowedEndsTheConnection() async throws {
        try await withHarness { h in
            let client = try RawHTTP2Client(port: h.gatehouse.dataPort)
            // Requests without a token, left open (no END_STREAM): each is answered 401 but stays
            // open from the client's side, so it counts against max_concurrent_streams (256).
            var frames: [H2Frame] = []
            for i in 0..<300 { frames.append(try client.request(stream: UInt32(1 + 2 * i), path: "/t/acme/x", endStream: false)) }
            await client.sendIgnoringClose(frames)
            let seen = await client.read(timeout: 10) { $0.contains { $0.kind == .goAway } }
            let goAway = try #require(seen.first { $0.kind == .goAway })
            #expect(goAway.errorCode != 0)
            #expect(await client.waitForClose(timeout: 5), "the connection stayed open after a connection error")
        }
    }

    /// Rapid reset (CVE-2023-44487): streams opened and reset at once never reach the upstream
    /// (or a small fraction of them do), no pooled upstream connection is thrown away for them,
    /// and the client is cut off.
    @Test func rapidResetCostsTheUpstreamAlmostNothing() async throws {
        try await withRawUpstream { h, upstream in
            let auth = ("authorization", "Bearer " + h.token())
            // Warm up: the token is verified and cached, and one upstream connection is pooled.
            let warm = try RawHTTP2Client(port: h.gatehouse.dataPort)
            try warm.send([try warm.request(stream: 1, path: "/t/acme/warm", headers: [auth])])
            _ = await warm.read { $0.contains { $0.stream == 1 && $0.flags & H2Frame.endStream != 0 } }
            #expect(upstream.requestCount == 1)

            let attacker = try RawHTTP2Client(port: h.gatehouse.dataPort)
            var frames: [H2Frame] = []
            for i in 0..<225 {
                let stream = UInt32(1 + 2 * i)
                frames.append(try attacker.request(stream: stream, path: "/t/acme/reset", headers: [auth]))
                frames.append(.rstStream(stream))
            }
            await attacker.sendIgnoringClose(frames)
            let seen = await attacker.read(timeout: 10) { $0.contains { $0.kind == .goAway } }
            #expect(seen.contains { $0.kind == .goAway && $0.errorCode != 0 }, "no GOAWAY: \(seen.map(\.type))")
            #expect(await attacker.waitForClose(timeout: 5), "the connection stayed open after its GOAWAY")

            // Any request that did go out is answered and read; then count.
            _ = await eventually(within: 2) { upstream.requestCount >= 1 }
            let reached = upstream.connections.flatMap { RawUpstream.requests(in: $0) }.filter { $0.contains("/reset") }.count
            #expect(reached <= 11, "\(reached) of 225 reset streams reached the upstream")
            #expect(upstream.connections.count <= 2, "\(upstream.connections.count) upstream connections for one client")

            // The pool still serves.
            try warm.send([try warm.request(stream: 3, path: "/t/acme/after", headers: [auth])])
            let after = await warm.read { $0.contains { $0.stream == 3 && $0.flags & H2Frame.endStream != 0 } }
            #expect(after.contains { $0.stream == 3 && $0.kind == .headers })
        }
    }
}
