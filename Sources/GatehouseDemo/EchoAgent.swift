import GatehouseCore
import GatehouseHTTP
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// An upstream agent that answers every request with JSON describing what it received, so a
/// human (in `gatehouse demo`) or a test can see exactly what Gatehouse forwarded.
///
/// `GET /sse?count=N&interval_ms=M` streams N server-sent events M ms apart instead.
public final class EchoAgent: Sendable {
    /// A canned answer that replaces the echo (for example a 404 that ends a session).
    public struct FixedResponse: Sendable {
        public var status: HTTPResponseStatus
        public var headers: HTTPHeaders
        public var body: [UInt8]

        public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: [UInt8] = []) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        public static func json(status: HTTPResponseStatus, _ value: JSONValue, headers: HTTPHeaders = [:]) -> FixedResponse {
            var h = headers
            h.replaceOrAdd(name: "Content-Type", value: "application/json")
            return FixedResponse(status: status, headers: h, body: Array(value.compactText.utf8))
        }
    }

    public struct Options: Sendable {
        /// Reported as `agent` in every answer.
        public var name: String
        public var fixedResponse: FixedResponse?
        /// Added to every answer (for example `Mcp-Session-Id`).
        public var responseHeaders: HTTPHeaders
        /// Where Gatehouse publishes its assertion keys (`…/.gatehouse/jwks.json`); nil: the
        /// assertion is reported as present or absent but not verified.
        public var assertionJWKSURL: String?
        public var assertionIssuer: String
        public var assertionHeader: String
        public var clock: WallClock
        /// How many received requests `received()` keeps (the newest); older ones are dropped,
        /// so a long-running demo does not grow without bound.
        public var recordLimit: Int

        public init(
            name: String, fixedResponse: FixedResponse? = nil, responseHeaders: HTTPHeaders = [:],
            assertionJWKSURL: String? = nil, assertionIssuer: String = "gatehouse",
            assertionHeader: String = "X-Gatehouse-Assertion", clock: @escaping WallClock = SystemWallClock.now,
            recordLimit: Int = 100_000
        ) {
            self.recordLimit = recordLimit
            self.name = name
            self.fixedResponse = fixedResponse
            self.responseHeaders = responseHeaders
            self.assertionJWKSURL = assertionJWKSURL
            self.assertionIssuer = assertionIssuer
            self.assertionHeader = assertionHeader
            self.clock = clock
        }
    }

    public let port: Int
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    let state: State
    private let server: SimpleHTTPServer

    final class State: Sendable {
        let options: Mutex<Options>
        let log = Mutex<[RecordedRequest]>([])
        let verifier: AssertionVerifier

        init(options: Options, verifier: AssertionVerifier) {
            self.options = Mutex(options)
            self.verifier = verifier
        }
    }

    private init(port: Int, state: State, server: SimpleHTTPServer) {
        self.port = port
        self.state = state
        self.server = server
    }

    public static func start(
        host: String = "127.0.0.1", port: Int = 0, group: any EventLoopGroup, options: Options,
        logger: Logger = Logger(label: "gatehouse.demo.agent")
    ) async throws -> EchoAgent {
        let state = State(options: options, verifier: AssertionVerifier(client: HTTPClient(group: group)))
        let server = try await SimpleHTTPServer.start(host: host, port: port, group: group, logger: logger) { request in
            await EchoAgent.handle(request, state: state)
        }
        return EchoAgent(port: server.port, state: state, server: server)
    }

    public func shutdown() async throws {
        try await server.shutdown()
    }

    /// Every request received since start or the last `reset()`, oldest first.
    public func received() -> [RecordedRequest] { state.log.withLock { $0 } }

    public func reset() { state.log.withLock { $0.removeAll() } }

    public func setFixedResponse(_ response: FixedResponse?) { state.options.withLock { $0.fixedResponse = response } }

    public func setResponseHeaders(_ headers: HTTPHeaders) { state.options.withLock { $0.responseHeaders = headers } }

    /// Known only once the proxy runs, which is after its upstreams have started.
    public func setAssertionJWKSURL(_ url: String?) { state.options.withLock { $0.assertionJWKSURL = url } }
}

/// What the agent saw of one request.
public struct RecordedRequest: Sendable {
    public var method: String
    /// Path and query, as received.
    public var uri: String
    public var headers: HTTPHeaders
    public var body: [UInt8]
    public var assertion: AssertionCheck

    public var authorizationPresent: Bool { headers.contains(name: "authorization") }

    /// The first value of `name` (case-insensitive).
    public func header(_ name: String) -> String? { headers.first(name: name) }
}
