import GatehouseHTTP
import NIOHTTP1
import Synchronization

public typealias AdminRouteHandler = @Sendable (HTTPServerRequest, RouteParameters) async -> HTTPServerResponse

/// (method, path pattern) → handler. Unknown path → 404, known path with another method → 405
/// with `Allow`; both as JSON errors. `HEAD` is served by the `GET` route.
public final class AdminRouter: Sendable {
    struct Route: Sendable {
        let method: HTTPMethod
        let pattern: PathPattern
        let handler: AdminRouteHandler
    }

    private let routes = Mutex<[Route]>([])

    public init() {}

    /// Routes are tried in the order added; the first whose pattern and method match wins.
    public func add(method: HTTPMethod, pattern: PathPattern, handler: @escaping AdminRouteHandler) {
        routes.withLock { $0.append(Route(method: method, pattern: pattern, handler: handler)) }
    }

    public func handle(_ request: HTTPServerRequest) async -> HTTPServerResponse {
        let all = routes.withLock { $0 }
        let wanted = request.method == .HEAD ? HTTPMethod.GET : request.method
        var allowed: [HTTPMethod] = []
        for route in all {
            guard let parameters = route.pattern.match(request.path) else { continue }
            if route.method == wanted { return await route.handler(request, parameters) }
            allowed.append(route.method)
        }
        guard !allowed.isEmpty else {
            return .error(status: .notFound, code: "not_found", description: "no such endpoint")
        }
        var names = allowed.map(\.rawValue)
        if allowed.contains(.GET) { names.append("HEAD") }
        var seen: Set<String> = []
        let allow = names.filter { seen.insert($0).inserted }.joined(separator: ", ")
        return .error(
            status: .methodNotAllowed, code: "method_not_allowed", description: "allowed: \(allow)",
            headers: ["Allow": allow])
    }
}
