import GatehouseCore
import GatehouseHTTP
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@Suite("SimpleHTTPServer")
struct SimpleHTTPServerTests {
    let client = HTTPClient(group: MultiThreadedEventLoopGroup.singleton)
    /// Deadlines that never decide these tests (none is about a timeout of the client): a loaded
    /// machine, the whole suite in parallel, can take seconds to connect.
    static let patient = ClientOptions(timeout: .seconds(60), connectTimeout: .seconds(30))

    @Test("a request reaches the handler with its parts intact and the answer comes back")
    func roundTrip() async throws {
        try await withServer(handler: { request in
            .json(.object([
                "method": .string(request.method.rawValue),
                "path": .string(request.path),
                "query": request.query.map(JSONValue.string) ?? .null,
                "body": .string(String(decoding: request.body, as: UTF8.self)),
                "header": .string(request.headers.first(name: "x-test") ?? ""),
                "remote": .string(request.remoteAddress ?? ""),
                "name": .string(request.queryParameters["name"] ?? ""),
            ]))
        }) { server in
            #expect(server.port > 0)
            let response = try await client.send(
                ClientRequest(method: .POST, url: "http://127.0.0.1:\(server.port)/a%2Fb/c?name=J%C3%BC+rg&x=1",
                              headers: ["X-Test": "yes"], body: Array("hello".utf8)), options: Self.patient)
            #expect(response.statusCode == 200)
            #expect(response.headers.first(name: "content-type") == "application/json")
            let json = try response.json()
            #expect(json["method"] == .string("POST"))
            #expect(json["path"] == .string("/a%2Fb/c"))
            #expect(json["query"] == .string("name=J%C3%BC+rg&x=1"))
            #expect(json["name"] == .string("Jü rg"))
            #expect(json["body"] == .string("hello"))
            #expect(json["header"] == .string("yes"))
            #expect(json["remote"] == .string("127.0.0.1"))
        }
    }

    @Test("keep-alive: two requests travel over one connection")
    func keepAlive() async throws {
        try await withServer(handler: { request in .text("you asked for \(request.path)") }) { server in
            let connection = try await connectHTTP(port: server.port)
            try await withTimeout {
                try await connection.executeThenClose { inbound, outbound in
                    var parts = inbound.makeAsyncIterator()
                    try await outbound.write(contentsOf: [requestHead(.GET, "/one"), .end(nil)])
                    let first = try await readResponse(&parts)
                    #expect(first.head.status == .ok)
                    #expect(first.body == "you asked for /one")
                    #expect(first.head.headers.first(name: "connection") != "close")
                    try await outbound.write(contentsOf: [requestHead(.GET, "/two"), .end(nil)])
                    let second = try await readResponse(&parts)
                    #expect(second.body == "you asked for /two")
                }
            }
            #expect(server.acceptedConnections == 1)
        }
    }

    @Test("pipelined requests are answered in order on one connection")
    func pipelining() async throws {
        try await withServer(handler: { request in .text("<\(request.path)>") }) { server in
            let raw = try await connectBytes(port: server.port)
            let answer = try await withTimeout {
                try await raw.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string:
                        "GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
                    var received = ""
                    for try await chunk in inbound { received += String(buffer: chunk) }
                    return received
                }
            }
            let a = try #require(answer.firstRange(of: "</a>"))
            let b = try #require(answer.firstRange(of: "</b>"))
            #expect(a.lowerBound < b.lowerBound)
            #expect(answer.split(separator: "HTTP/1.1 200").count == 2)
        }
    }

    @Test("a body over the limit is answered 413 and never reaches the handler")
    func bodyTooLarge() async throws {
        let calls = Counter()
        try await withServer(configuration: .init(maxRequestBodyBytes: 16), handler: { _ in
            calls.increment()
            return .text("ok")
        }) { server in
            let small = try await client.send(
                ClientRequest(method: .POST, url: "http://127.0.0.1:\(server.port)/", body: Array(repeating: 65, count: 16)), options: Self.patient)
            #expect(small.statusCode == 200)
            let big = try await client.send(
                ClientRequest(method: .POST, url: "http://127.0.0.1:\(server.port)/", body: Array(repeating: 65, count: 17)), options: Self.patient)
            #expect(big.statusCode == 413)
            #expect(try big.json()["error"] == .string("request_too_large"))
            #expect(big.headers.first(name: "connection") == "close")

            // Without a Content-Length the limit is enforced while the chunks arrive.
            let connection = try await connectHTTP(port: server.port)
            try await withTimeout {
                try await connection.executeThenClose { inbound, outbound in
                    var parts = inbound.makeAsyncIterator()
                    try await outbound.write(requestHead(.POST, "/", headers: ["Host": "t", "Transfer-Encoding": "chunked"]))
                    for _ in 0..<4 {
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: "0123456789"))))
                    }
                    try await outbound.write(.end(nil))
                    let response = try await readResponse(&parts)
                    #expect(response.head.status == .payloadTooLarge)
                }
            }
            #expect(calls.count == 1)
        }
    }

    @Test("a streamed body reaches the client chunk by chunk, before the stream ends")
    func streaming() async throws {
        let (stream, feed) = AsyncStream<[UInt8]>.makeStream()
        try await withServer(handler: { _ in
            HTTPServerResponse(headers: ["Content-Type": "text/event-stream"], stream: stream)
        }) { server in
            let connection = try await connectHTTP(port: server.port)
            try await withTimeout {
                try await connection.executeThenClose { inbound, outbound in
                    var parts = inbound.makeAsyncIterator()
                    try await outbound.write(contentsOf: [requestHead(.GET, "/events"), .end(nil)])
                    feed.yield(Array("data: 1\n\n".utf8))
                    guard case .head(let head) = try await parts.next() else { Issue.record("no head"); return }
                    #expect(head.headers.first(name: "transfer-encoding") == "chunked")
                    // The first event is readable while the stream is still open.
                    guard case .body(let first) = try await parts.next() else { Issue.record("no first chunk"); return }
                    #expect(String(buffer: first) == "data: 1\n\n")
                    feed.yield(Array("data: 2\n\n".utf8))
                    guard case .body(let second) = try await parts.next() else { Issue.record("no second chunk"); return }
                    #expect(String(buffer: second) == "data: 2\n\n")
                    feed.finish()
                    guard case .end = try await parts.next() else { Issue.record("no end"); return }
                }
            }
        }
    }

    @Test("garbage is answered 400 and the server keeps serving")
    func garbage() async throws {
        try await withServer(handler: { _ in .text("fine") }) { server in
            let raw = try await connectBytes(port: server.port)
            let answer = try await withTimeout {
                try await raw.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: "\u{01}\u{02} NOT HTTP AT ALL\r\n\r\n"))
                    var received = ""
                    // The server closes after answering, which ends this loop.
                    for try await chunk in inbound { received += String(buffer: chunk) }
                    return received
                }
            }
            #expect(answer.hasPrefix("HTTP/1.1 400"))
            let after = try await client.get(url: "http://127.0.0.1:\(server.port)/", options: Self.patient)
            #expect(after.statusCode == 200)
        }
    }

    @Test("an oversized header block is refused, not served")
    func hugeHeaders() async throws {
        let calls = Counter()
        try await withServer(configuration: .init(maxHeaderBytes: 1024), handler: { _ in
            calls.increment()
            return .text("fine")
        }) { server in
            let result = try? await client.get(
                url: "http://127.0.0.1:\(server.port)/", headers: ["X-Big": String(repeating: "a", count: 4096)])
            #expect(result == nil || result?.statusCode == 400)
            #expect(calls.count == 0)
        }
    }

    @Test("a connection that sends nothing is closed after the idle timeout")
    func idleTimeout() async throws {
        let calls = Counter()
        try await withServer(configuration: .init(idleTimeout: .milliseconds(200)), handler: { _ in
            calls.increment()
            return .text("fine")
        }) { server in
            let raw = try await connectBytes(port: server.port)
            let started = ContinuousClock.now
            // Half a request line, then silence: the server must not wait for the rest forever.
            let received = try await withTimeout(5) {
                let received = Mutex("")
                // The server's close may surface as an error here; either way the loop has ended.
                try? await raw.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: "GET / HT"))
                    for try await chunk in inbound { received.withLock { $0 += String(buffer: chunk) } }
                }
                return received.withLock { $0 }
            }
            #expect(ContinuousClock.now - started >= .milliseconds(150))
            #expect(!received.contains("200"))
            #expect(calls.count == 0)
        }
    }

    @Test("HEAD gets the headers of a GET and no body")
    func head() async throws {
        try await withServer(handler: { _ in .text("twelve bytes") }) { server in
            let response = try await client.send(ClientRequest(method: .HEAD, url: "http://127.0.0.1:\(server.port)/"), options: Self.patient)
            #expect(response.statusCode == 200)
            #expect(response.headers.first(name: "content-length") == "12")
            #expect(response.body.isEmpty)
        }
    }

    @Test("error helper writes the standard JSON error shape")
    func errorShape() async throws {
        let response = HTTPServerResponse.error(status: .notFound, code: "not_found", description: "no such thing")
        #expect(response.status == .notFound)
        #expect(response.headers.first(name: "content-type") == "application/json")
        guard case .bytes(let body) = response.body else { Issue.record("not bytes"); return }
        let json = try JSONParser.parse(body)
        #expect(json == .object(["error": .string("not_found"), "error_description": .string("no such thing")]))
    }

    @Test("shutdown ends a handler that is still waiting")
    func shutdownCancelsInFlight() async throws {
        let server = try await SimpleHTTPServer.start(group: MultiThreadedEventLoopGroup.singleton) { _ in
            for await _ in AsyncStream<Never>.makeStream().stream {}
            return .text("late")
        }
        let port = server.port
        let pending = Task { try? await HTTPClient(group: MultiThreadedEventLoopGroup.singleton).get(url: "http://127.0.0.1:\(port)/") }
        try await waitUntil { server.acceptedConnections == 1 }
        try await withTimeout { try await server.shutdown() }
        let late = await pending.value
        #expect(late == nil || late?.statusCode != 200)
    }
}
