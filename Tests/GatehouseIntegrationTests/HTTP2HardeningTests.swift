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

    // MARK: - Floods, bombs and stalls

    /// The resident set of this process (Gatehouse runs in it), in bytes.
    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kb = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kb * 1024
    }

    static let memoryBound = 64 << 20

    /// SETTINGS and PING frames in a burst, never reading the acknowledgements: the client is
    /// cut off (GOAWAY ENHANCE_YOUR_CALM, or the connection closed) and memory stays bounded.
    @Test func aSettingsAndPingFloodEndsTheConnection() async throws {
        try await withHarness { h in
            let before = Self.residentBytes()
            let client = try RawHTTP2Client(port: h.gatehouse.dataPort)
            client.answersPings = false
            var flood: [H2Frame] = []
            for i in 0..<20_000 {
                flood.append(i % 2 == 0 ? H2Frame(.ping, payload: [UInt8](repeating: UInt8(i & 0xFF), count: 8)) : H2Frame(.settings))
            }
            await client.sendIgnoringClose(flood)
            let frames = await client.read(timeout: 10) { $0.contains { $0.kind == .goAway } }
            let goAway = frames.first { $0.kind == .goAway }
            #expect(goAway?.errorCode == 0xB || client.closed, "frames: \(Set(frames.map(\.type)))")
            #expect(await client.waitForClose(timeout: 10), "the connection stayed open after a control-frame flood")
            #expect(Self.residentBytes() - before < Self.memoryBound)
            // The server is fine for everyone else.
            let other = try RawHTTP2Client(port: h.gatehouse.dataPort)
            try other.send([try other.request(stream: 1, path: "/t/acme/after", headers: [("authorization", "Bearer " + h.token())])])
            let answer = await other.read { $0.contains { $0.stream == 1 && $0.flags & H2Frame.endStream != 0 } }
            #expect(try other.statuses(answer)[1] == 200)
        }
    }

    /// HPACK bomb: one 4 KiB field put in the dynamic table, then referenced 12,000 times with one
    /// byte each — about 50 MB of decoded header list from some 13 KB on the wire. Refused by the
    /// header list size limit before it is built: nothing reaches the upstream, memory stays bounded.
    @Test func anHPACKBombIsRefusedWithBoundedMemory() async throws {
        try await withHarness { h in
            let before = Self.residentBytes()
            let client = try RawHTTP2Client(port: h.gatehouse.dataPort)
            var block: [UInt8] = [0x82, 0x86]  // :method GET, :scheme http (static table)
            for (index, value) in [(UInt8(4), "/t/acme/bomb"), (UInt8(1), "localhost")] {
                // Literal without indexing, name from the static table (:path, :authority).
                block += [index, UInt8(value.utf8.count)] + Array(value.utf8)
            }
            // Literal with incremental indexing, new name: becomes dynamic table entry 62.
            let name = Array("x-bomb".utf8)
            block += [0x40, UInt8(name.count)] + name
            block += [0x7F, 0xA1, 0x1E]  // value length 4000 (7-bit prefix integer)
            block += [UInt8](repeating: UInt8(ascii: "a"), count: 4000)
            block += [UInt8](repeating: 0xBE, count: 12_000)  // indexed: dynamic entry 62
            var frames: [H2Frame] = []
            let size = 16_384
            var offset = 0
            while offset < block.count {
                let piece = Array(block[offset..<min(offset + size, block.count)])
                let last = offset + size >= block.count
                let flags = last ? H2Frame.endHeaders : 0
                frames.append(
                    offset == 0
                        ? H2Frame(.headers, flags: flags | H2Frame.endStream, stream: 1, payload: piece)
                        : H2Frame(.continuation, flags: flags, stream: 1, payload: piece))
                offset += size
            }
            await client.sendIgnoringClose(frames)
            let seen = await client.read(timeout: 10) { frames in
                frames.contains { $0.kind == .goAway || ($0.stream == 1 && ($0.kind == .rstStream || $0.flags & H2Frame.endStream != 0)) }
            }
            let refused =
                seen.contains { $0.kind == .goAway || $0.kind == .rstStream } || client.closed
                || (try? client.statuses(seen)[1]).map { $0 == 431 } == true
            #expect(refused, "frames: \(seen.map { ($0.stream, $0.type, $0.errorCode ?? 0) })")
            #expect(h.upstreamRequests.isEmpty, "the bomb reached the upstream")
            #expect(Self.residentBytes() - before < Self.memoryBound)
        }
    }

    /// A request whose body never comes: the head goes upstream, and the idle timeout (no byte
    /// either way) ends the exchange with 504 — the stream is answered, not left open for ever.
    @Test func aStreamThatNeverSendsItsBodyIsEndedByTheIdleTimeout() async throws {
        var options = RawUpstream.Options()
        options.delay = .seconds(30)
        try await withRawUpstream(options, customize: { $0.settings.limits.upstreamIdleTimeoutSeconds = 1 }) { h, _ in
            let client = try RawHTTP2Client(port: h.gatehouse.dataPort)
            let started = monotonicSeconds()
            try client.send([
                try client.request(
                    stream: 1, method: "POST", path: "/t/acme/upload",
                    headers: [("authorization", "Bearer " + h.token()), ("content-length", "100")], endStream: false)
            ])
            let seen = await client.read(timeout: 15) { frames in
                frames.contains { $0.stream == 1 && ($0.kind == .rstStream || $0.flags & H2Frame.endStream != 0) }
            }
            let took = monotonicSeconds() - started
            let status = try client.statuses(seen)[1]
            #expect(status == 504 || seen.contains { $0.stream == 1 && $0.kind == .rstStream }, "\(seen.map { ($0.stream, $0.type) })")
            #expect(took < 10, "ended after \(took) s")
        }
    }

    /// A client whose receive window stays at zero: Gatehouse cannot send it DATA, stops reading
    /// the upstream (bounded buffering), and the idle timeout ends the stream.
    @Test func aClientThatNeverOpensItsWindowGetsBoundedBufferingAndATimeout() async throws {
        var options = RawUpstream.Options()
        let body = String(repeating: "z", count: 32 << 20)
        options.response = "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        try await withRawUpstream(options, customize: { $0.settings.limits.upstreamIdleTimeoutSeconds = 1 }) { h, _ in
            let before = Self.residentBytes()
            let client = try RawHTTP2Client(port: h.gatehouse.dataPort)
            // SETTINGS_INITIAL_WINDOW_SIZE = 0: no DATA may be sent on any stream.
            try client.send([
                H2Frame(.settings, payload: [0x00, 0x04, 0, 0, 0, 0]),
                try client.request(stream: 1, path: "/t/acme/big", headers: [("authorization", "Bearer " + h.token())]),
            ])
            let seen = await client.read(timeout: 20) { frames in
                frames.contains { $0.kind == .goAway || ($0.stream == 1 && ($0.kind == .rstStream || $0.flags & H2Frame.endStream != 0)) }
            }
            let data = seen.filter { $0.kind == .data }.reduce(0) { $0 + $1.payload.count }
            #expect(data == 0, "DATA sent into a zero window: \(data) bytes")
            #expect(seen.contains { $0.stream == 1 && $0.kind == .rstStream } || client.closed, "\(seen.map { ($0.stream, $0.type) })")
            #expect(Self.residentBytes() - before < Self.memoryBound, "Gatehouse buffered the upstream's 32 MiB")
        }
    }
}
