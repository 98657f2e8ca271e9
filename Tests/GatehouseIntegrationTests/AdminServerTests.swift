import GatehouseAdmin
import GatehouseCore
import GatehouseHTTP
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@Suite("Admin listener")
struct AdminServerTests {
    let client = PatientHTTPClient(group: MultiThreadedEventLoopGroup.singleton)

    final class Readiness: Sendable {
        let state = Mutex<(Bool, String?)>((true, nil))
        func set(_ ready: Bool, _ reason: String?) { state.withLock { $0 = (ready, reason) } }
    }

    /// Starts an admin server on an ephemeral port, runs `body` with its base URL, shuts it down.
    private func withAdmin(
        metrics: MetricsRegistry = MetricsRegistry(), readiness: Readiness = Readiness(),
        routes: (AdminServer) -> Void = { _ in },
        _ body: (String) async throws -> Void
    ) async throws {
        let admin = AdminServer(
            listen: SocketAddressSpec(host: "127.0.0.1", port: 0), group: MultiThreadedEventLoopGroup.singleton,
            metrics: metrics, readiness: { let s = readiness.state.withLock { $0 }; return (s.0, s.1) },
            logger: Logger(label: "test.admin"))
        routes(admin)
        let port = try await admin.start()
        #expect(admin.port == port)
        do {
            try await body("http://127.0.0.1:\(port)")
        } catch {
            try? await admin.shutdown()
            throw error
        }
        try await admin.shutdown()
    }

    @Test("GET /healthz answers ok")
    func healthz() async throws {
        try await withAdmin { base in
            let response = try await client.get(url: base + "/healthz")
            #expect(response.statusCode == 200)
            #expect(response.headers.first(name: "content-type") == "application/json")
            #expect(try response.json() == .object(["status": .string("ok")]))
        }
    }

    @Test("GET /readyz follows the readiness check, with its reason")
    func readyz() async throws {
        let readiness = Readiness()
        try await withAdmin(readiness: readiness) { base in
            let ready = try await client.get(url: base + "/readyz")
            #expect(ready.statusCode == 200)
            #expect(try ready.json() == .object(["status": .string("ready")]))

            readiness.set(false, "store unreachable")
            let notReady = try await client.get(url: base + "/readyz")
            #expect(notReady.statusCode == 503)
            #expect(try notReady.json() == .object(["status": .string("not_ready"), "reason": .string("store unreachable")]))
        }
    }

    @Test("GET /metrics renders the registry as Prometheus text")
    func metrics() async throws {
        let metrics = GatehouseMetrics()
        metrics.requests.increment(["acme", "200"])
        try await withAdmin(metrics: metrics.registry) { base in
            let response = try await client.get(url: base + "/metrics")
            #expect(response.statusCode == 200)
            #expect(response.headers.first(name: "content-type") == "text/plain; version=0.0.4; charset=utf-8")
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(text.contains("# TYPE gatehouse_requests_total counter"))
            #expect(text.contains("gatehouse_requests_total{tenant=\"acme\",status=\"200\"} 1"))
        }
    }

    @Test("an unknown path is a JSON 404")
    func unknownPath() async throws {
        try await withAdmin { base in
            let response = try await client.get(url: base + "/nope")
            #expect(response.statusCode == 404)
            #expect(try response.json()["error"] == .string("not_found"))
        }
    }

    @Test("a known path with the wrong method is 405 with Allow")
    func wrongMethod() async throws {
        try await withAdmin { base in
            let response = try await client.send(ClientRequest(method: .POST, url: base + "/healthz"))
            #expect(response.statusCode == 405)
            #expect(response.headers.first(name: "allow") == "GET, HEAD")
            #expect(try response.json()["error"] == .string("method_not_allowed"))
        }
    }

    @Test("registered routes get their path parameters, decoded")
    func addedRoutes() async throws {
        try await withAdmin(routes: { admin in
            admin.addRoute(method: .PUT, pattern: "/admin/v1/tenants/{t}/idps/{name}") { request, params in
                .json(.object([
                    "t": .string(params["t"] ?? ""), "name": .string(params["name"] ?? ""),
                    "body": .string(String(decoding: request.body, as: UTF8.self)),
                ]))
            }
            admin.addRoute(method: .DELETE, pattern: "/admin/v1/tenants/{t}/idps/{name}") { _, _ in
                HTTPServerResponse(status: .noContent)
            }
        }) { base in
            let put = try await client.send(
                ClientRequest(method: .PUT, url: base + "/admin/v1/tenants/acme/idps/my%20idp%2Fx", body: Array("{}".utf8)))
            #expect(put.statusCode == 200)
            #expect(try put.json() == .object(["t": .string("acme"), "name": .string("my idp/x"), "body": .string("{}")]))

            let delete = try await client.send(ClientRequest(method: .DELETE, url: base + "/admin/v1/tenants/acme/idps/x"))
            #expect(delete.statusCode == 204)

            let get = try await client.get(url: base + "/admin/v1/tenants/acme/idps/x")
            #expect(get.statusCode == 405)
            #expect(get.headers.first(name: "allow") == "PUT, DELETE")

            for path in ["/admin/v1/tenants/acme/idps", "/admin/v1/tenants/acme/idps/x/extra", "/admin/v1/tenants//idps/x"] {
                let miss = try await client.send(ClientRequest(method: .PUT, url: base + path))
                #expect(miss.statusCode == 404, "\(path)")
            }
        }
    }

    @Test("path patterns: what parses and what matches")
    func patterns() throws {
        for bad in ["", "no-slash", "/a//b", "/{}", "/{a}/{a}", "/a{b}", "/{a"] {
            #expect(PathPattern(bad) == nil, "\(bad)")
        }
        let pattern = try #require(PathPattern("/admin/v1/tenants/{t}/sessions/{header}/{id}"))
        let params = try #require(pattern.match("/admin/v1/tenants/acme/sessions/Mcp-Session-Id/abc%2Fdef"))
        #expect(params["t"] == "acme")
        #expect(params["header"] == "Mcp-Session-Id")
        #expect(params["id"] == "abc/def")
        #expect(pattern.match("/admin/v1/tenants/acme/sessions/h/%ZZ") == nil)
        #expect(pattern.match("/admin/v1/tenants/acme/sessions/h") == nil)
        #expect(try #require(PathPattern("/")).match("/") != nil)
    }

    @Test("the router answers without sockets")
    func routerDirect() async throws {
        let router = AdminRouter()
        router.add(method: .GET, pattern: try #require(PathPattern("/x/{id}"))) { _, params in
            .text(params["id"] ?? "")
        }
        let hit = await router.handle(HTTPServerRequest(method: .GET, uri: "/x/42?ignored=1"))
        #expect(hit.status == .ok)
        let head = await router.handle(HTTPServerRequest(method: .HEAD, uri: "/x/42"))
        #expect(head.status == .ok)
        let miss = await router.handle(HTTPServerRequest(method: .GET, uri: "/y"))
        #expect(miss.status == .notFound)
    }
}
