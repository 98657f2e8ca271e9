import GatehouseCore
import GatehouseHTTP

extension AdminServer {
    func registerHealthRoutes(metrics: MetricsRegistry, readiness: @escaping Readiness) {
        addRoute(method: .GET, pattern: "/healthz") { _, _ in
            .json(.object(["status": .string("ok")]))
        }
        addRoute(method: .GET, pattern: "/readyz") { _, _ in
            let state = await readiness()
            if state.ready { return .json(.object(["status": .string("ready")])) }
            return .json(
                status: .serviceUnavailable,
                .object(["status": .string("not_ready"), "reason": state.reason.map(JSONValue.string) ?? .null]))
        }
        addRoute(method: .GET, pattern: "/metrics") { _, _ in
            .text(metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
    }
}
