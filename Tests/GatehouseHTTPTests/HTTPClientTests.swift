#if canImport(Glibc)
import Glibc
#endif
import GatehouseCore
import GatehouseHTTP
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

/// Resolves every name to loopback: stands in for a DNS answer an attacker controls.
struct LoopbackResolver: HostResolver {
    func resolve(host: String, port: Int) async throws -> [SocketAddress] {
        [try SocketAddress(ipAddress: "127.0.0.1", port: port)]
    }
}

@Suite("HTTPClient")
struct HTTPClientTests {
    let client = HTTPClient(group: MultiThreadedEventLoopGroup.singleton)
    /// Options whose deadlines never decide a test that is about another failure.
    static let patient = ClientOptions(timeout: .seconds(60), connectTimeout: .seconds(30))

    @Test("GET returns status, headers and body")
    func get() async throws {
        try await withServer(handler: { request in
            .text("hello \(request.headers.first(name: "host") ?? "?")", headers: ["Cache-Control": "public, max-age=300"])
        }) { server in
            let response = try await client.get(url: "http://127.0.0.1:\(server.port)/x", options: Self.patient)
            #expect(response.statusCode == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "hello 127.0.0.1:\(server.port)")
            #expect(response.cacheControlMaxAge == 300)
            #expect(response.remoteAddress.ipAddress == "127.0.0.1")
        }
    }

    @Test("POST sends a JSON body")
    func postJSON() async throws {
        try await withServer(handler: { request in
            .json(.object([
                "type": .string(request.headers.first(name: "content-type") ?? ""),
                "got": (try? JSONParser.parse(request.body)) ?? .null,
            ]))
        }) { server in
            let response = try await client.send(
                .postJSON(url: "http://127.0.0.1:\(server.port)/complete", .object(["session_id": .string("s1")])), options: Self.patient)
            let json = try response.json()
            #expect(json["type"] == .string("application/json"))
            #expect(json["got"] == .object(["session_id": .string("s1")]))
        }
    }

    @Test("a redirect is returned, never followed")
    func noRedirects() async throws {
        let calls = Counter()
        try await withServer(handler: { request in
            calls.increment()
            return HTTPServerResponse(status: .found, headers: ["Location": "/elsewhere"])
        }) { server in
            let response = try await client.get(url: "http://127.0.0.1:\(server.port)/start", options: Self.patient)
            #expect(response.statusCode == 302)
            #expect(response.headers.first(name: "location") == "/elsewhere")
            #expect(calls.count == 1)
        }
    }

    @Test("a body over maxResponseBytes fails, with or without Content-Length")
    func sizeLimit() async throws {
        let big = [UInt8](repeating: 0x41, count: 300 * 1024)
        try await withServer(handler: { request in
            if request.path == "/chunked" {
                let (stream, feed) = AsyncStream<[UInt8]>.makeStream()
                for start in stride(from: 0, to: big.count, by: 16 * 1024) {
                    feed.yield(Array(big[start..<min(start + 16 * 1024, big.count)]))
                }
                feed.finish()
                return HTTPServerResponse(stream: stream)
            }
            return HTTPServerResponse(body: big)
        }) { server in
            for path in ["/fixed", "/chunked"] {
                let error = await #expect(throws: HTTPClientError.self) {
                    _ = try await client.get(url: "http://127.0.0.1:\(server.port)\(path)", options: Self.patient)
                }
                #expect(error?.code == .tooLarge)
            }
            let allowed = try await client.get(
                url: "http://127.0.0.1:\(server.port)/chunked", options: ClientOptions(timeout: .seconds(60), connectTimeout: .seconds(30), maxResponseBytes: big.count))
            #expect(allowed.body.count == big.count)
        }
    }

    @Test("a server that never answers costs no more than the timeout")
    func timeout() async throws {
        try await withServer(handler: { _ in
            for await _ in AsyncStream<Never>.makeStream().stream {}
            return .text("too late")
        }) { server in
            let started = ContinuousClock.now
            let error = await #expect(throws: HTTPClientError.self) {
                _ = try await client.get(url: "http://127.0.0.1:\(server.port)/", options: ClientOptions(timeout: .milliseconds(300)))
            }
            #expect(error?.code == .timeout)
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .milliseconds(250))
            // Well under the 5 s default, so the option is what ended it; not tighter, because a
            // loaded 2-core machine running every suite at once has delayed the wake-up by 3 s.
            #expect(elapsed < .milliseconds(4500))
        }
    }

    @Test("the address policy refuses loopback and nothing connects")
    func addressPolicyRefuses() async throws {
        try await withServer(handler: { _ in .text("should not be reached") }) { server in
            let asked = AddressLog()
            let options = ClientOptions(addressPolicy: { address in
                asked.record(address.ipAddress ?? "?")
                return address.ipAddress != "127.0.0.1"
            })
            let error = await #expect(throws: HTTPClientError.self) {
                _ = try await client.get(url: "http://127.0.0.1:\(server.port)/", options: options)
            }
            #expect(error?.code == .refusedAddress)
            #expect(asked.all == ["127.0.0.1"])
            #expect(server.acceptedConnections == 0)
        }
    }

    @Test("the policy judges the resolved address, not the name")
    func policySeesResolvedAddress() async throws {
        let client = HTTPClient(group: MultiThreadedEventLoopGroup.singleton, resolver: LoopbackResolver())
        try await withServer(handler: { request in .text(request.headers.first(name: "host") ?? "") }) { server in
            let url = "http://idp.example.com:\(server.port)/jwks.json"
            let refused = await #expect(throws: HTTPClientError.self) {
                _ = try await client.get(url: url, options: ClientOptions(timeout: .seconds(60), connectTimeout: .seconds(30), addressPolicy: { $0.ipAddress != "127.0.0.1" }))
            }
            #expect(refused?.code == .refusedAddress)
            #expect(server.acceptedConnections == 0)

            let allowed = try await client.get(url: url, options: ClientOptions(timeout: .seconds(60), connectTimeout: .seconds(30), addressPolicy: { _ in true }))
            #expect(String(decoding: allowed.body, as: UTF8.self) == "idp.example.com:\(server.port)")
            #expect(server.acceptedConnections == 1)
        }
    }

    @Test("malformed URLs are refused before any I/O", arguments: [
        "ftp://example.com/x", "http://user:pass@example.com/", "example.com/x", "http:///x", "http://exa mple.com/",
    ])
    func invalidURL(_ url: String) async throws {
        let error = await #expect(throws: HTTPClientError.self) { _ = try await client.get(url: url) }
        #expect(error?.code == .invalidURL)
    }

    @Test("a closed port is a connect failure")
    func connectFailure() async throws {
        // A socket bound but not listening: connections to its port are refused, and no other
        // test can take the port meanwhile (a closed server's port could be reused at once).
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        // A deadline far beyond the answer: on a loaded machine (CI builds and tests at once) the
        // default 5 s passed before the refusal was seen, and the test measured the load.
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await client.get(url: "http://127.0.0.1:\(port)/", options: Self.patient)
        }
        #expect(error?.code == .connectFailed)
    }

    @Test("https to a server that does not speak TLS fails as a TLS error")
    func tlsFailure() async throws {
        let client = HTTPClient(group: MultiThreadedEventLoopGroup.singleton, resolver: LoopbackResolver())
        try await withServer(handler: { _ in .text("plain") }) { server in
            let error = await #expect(throws: HTTPClientError.self) {
                _ = try await client.get(url: "https://idp.example.com:\(server.port)/", options: Self.patient)
            }
            #expect(error?.code == .tlsFailed)
        }
    }

    @Test("an unresolvable name is a connect failure")
    func unresolvable() async throws {
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await client.get(url: "http://does-not-exist.invalid/")
        }
        #expect(error?.code == .connectFailed || error?.code == .timeout)
    }
}

final class AddressLog: Sendable {
    private let items = Mutex<[String]>([])
    func record(_ s: String) { items.withLock { $0.append(s) } }
    var all: [String] { items.withLock { $0 } }
}
