import GatehouseCore
import GatehouseHTTP
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// The admin listener (docs/admin-api.md "Admin API"): health, readiness and metrics, plus whatever routes later
/// code registers (the admin API). Runs on its own port so that the data plane never exposes it.
public final class AdminServer: Sendable {
    public typealias Readiness = @Sendable () async -> (ready: Bool, reason: String?)

    private let listen: SocketAddressSpec
    private let group: any EventLoopGroup
    private let logger: Logger
    public let router = AdminRouter()
    private let server = Mutex<SimpleHTTPServer?>(nil)

    public init(
        listen: SocketAddressSpec, group: any EventLoopGroup, metrics: MetricsRegistry,
        readiness: @escaping Readiness, logger: Logger
    ) {
        self.listen = listen
        self.group = group
        self.logger = logger
        registerHealthRoutes(metrics: metrics, readiness: readiness)
    }

    /// Registers a route. Patterns use `{name}` for one path segment; an invalid pattern is a
    /// programming error and stops the process.
    public func addRoute(method: HTTPMethod, pattern: String, handler: @escaping AdminRouteHandler) {
        guard let parsed = PathPattern(pattern) else { preconditionFailure("invalid route pattern \(pattern)") }
        router.add(method: method, pattern: parsed, handler: handler)
    }

    /// Binds and serves; returns the bound port (useful with port 0). Calling it again while
    /// running returns the same port.
    @discardableResult
    public func start() async throws -> Int {
        if let running = port { return running }
        let router = self.router
        let logger = self.logger
        let started = try await SimpleHTTPServer.start(
            host: listen.host, port: listen.port, group: group, logger: logger
        ) { request in
            let began = monotonicSeconds()
            let response = await router.handle(request)
            // Path only: query strings and headers may carry secrets.
            logger.debug(
                "admin request",
                metadata: [
                    "method": "\(request.method.rawValue)", "path": "\(AdminLogPath.redacted(request.path))",
                    "status": "\(response.status.code)",
                    "duration_ms": "\(Int((monotonicSeconds() - began) * 1000))",
                ])
            return response
        }
        server.withLock { $0 = started }
        logger.info("admin listener started", metadata: ["address": "\(listen.host):\(started.port)"])
        return started.port
    }

    /// The bound port once started.
    public var port: Int? { server.withLock { $0?.port } }

    public func shutdown() async throws {
        let running = server.withLock { s in
            defer { s = nil }
            return s
        }
        try await running?.shutdown()
    }
}
