import GatehouseConfig
import GatehouseCore
import GatehouseHTTP
import GatehouseIdentity
import GatehouseSessions
import Logging
import NIOHTTP1

/// The admin API of docs/admin-api.md "Admin API" on the admin listener: tenant admin keys, IdPs registered at
/// runtime, session revocation, the audit log and reload.
///
/// Every request is authenticated (operator token or tenant admin key) before anything else is
/// looked at, so an unauthenticated caller learns nothing, not even which tenants exist.
/// Mutations run one at a time (`AsyncLimiter` with limit 1): the checks a mutation makes still hold when it writes.
public final class AdminAPI: Sendable {
    public struct Dependencies: Sendable {
        public var control: any AdminControl
        public var store: any AdminStore
        public var sessionStore: any SessionStore
        public var sessions: SessionTable
        public var keySets: KeySetCache
        public var tokenCache: VerifiedTokenCache
        /// nil: only tenant admin keys can authenticate (and none can be created).
        public var operatorToken: String?
        public var clock: WallClock
        public var logger: Logger

        public init(
            control: any AdminControl, store: any AdminStore, sessionStore: any SessionStore, sessions: SessionTable,
            keySets: KeySetCache, tokenCache: VerifiedTokenCache, operatorToken: String?, clock: @escaping WallClock, logger: Logger
        ) {
            self.control = control
            self.store = store
            self.sessionStore = sessionStore
            self.sessions = sessions
            self.keySets = keySets
            self.tokenCache = tokenCache
            self.operatorToken = operatorToken
            self.clock = clock
            self.logger = logger
        }
    }

    /// Who may call a route.
    enum Access {
        /// The operator token only.
        case `operator`
        /// The operator, or an admin key of the tenant named by the `{t}` path parameter.
        case tenant
    }

    /// An authorised request: the caller, and the tenant of a `{t}` route (known to exist).
    struct Call: Sendable {
        var caller: AdminCaller
        var tenant: TenantID?
        var request: HTTPServerRequest
        var parameters: RouteParameters
    }

    typealias Handler = @Sendable (AdminAPI, Call) async -> HTTPServerResponse

    let deps: Dependencies
    /// Mutations one at a time, in arrival order.
    let gate = AsyncLimiter(limit: 1)
    private let operatorTokenHash: String?

    public init(_ dependencies: Dependencies) {
        self.deps = dependencies
        self.operatorTokenHash = dependencies.operatorToken.map(AdminKey.hash)
    }

    var logger: Logger { deps.logger }

    /// The routes, in the order they are matched. The OpenAPI document lists the same set (a test
    /// checks both ways).
    static let routes: [(method: HTTPMethod, pattern: String, access: Access, handler: Handler)] = [
        (.GET, "/admin/v1/tenants", .operator, { $0.listTenants($1) }),
        (.POST, "/admin/v1/tenants/{t}/keys", .operator, { await $0.createKey($1) }),
        (.GET, "/admin/v1/tenants/{t}/keys", .operator, { await $0.listKeys($1) }),
        (.DELETE, "/admin/v1/tenants/{t}/keys/{id}", .operator, { await $0.revokeKey($1) }),
        (.GET, "/admin/v1/tenants/{t}/idps", .tenant, { $0.listIdPs($1) }),
        (.GET, "/admin/v1/tenants/{t}/idps/{name}", .tenant, { $0.getIdP($1) }),
        (.PUT, "/admin/v1/tenants/{t}/idps/{name}", .tenant, { await $0.putIdP($1) }),
        (.DELETE, "/admin/v1/tenants/{t}/idps/{name}", .tenant, { await $0.deleteIdP($1) }),
        (.GET, "/admin/v1/tenants/{t}/sessions", .tenant, { await $0.listSessions($1) }),
        (.DELETE, "/admin/v1/tenants/{t}/sessions", .tenant, { await $0.revokeSubject($1) }),
        (.DELETE, "/admin/v1/tenants/{t}/sessions/{header}/{id}", .tenant, { await $0.revokeSession($1) }),
        (.GET, "/admin/v1/tenants/{t}/audit", .tenant, { await $0.listAudit($1) }),
        (.GET, "/admin/v1/audit", .operator, { await $0.listAudit($1) }),
        (.POST, "/admin/v1/reload", .operator, { await $0.reload($1) }),
    ]

    /// Registers every route on `server`, plus `GET /admin/v1/openapi.json` (unauthenticated).
    public func register(on server: AdminServer) {
        for route in Self.routes {
            let access = route.access
            let handler = route.handler
            server.addRoute(method: route.method, pattern: route.pattern) { [self] request, parameters in
                switch await authorize(request, parameters, access) {
                case .failure(let refusal): return refusal
                case .success(let call): return await handler(self, call)
                }
            }
        }
        server.addRoute(method: .GET, pattern: "/admin/v1/openapi.json") { _, _ in
            HTTPServerResponse(
                status: .ok, headers: ["Content-Type": "application/json", "Cache-Control": "no-cache"],
                body: PackageResources.openapi_json)
        }
    }

    // MARK: - Authorisation

    private func authorize(_ request: HTTPServerRequest, _ parameters: RouteParameters, _ access: Access) async -> Result<Call, HTTPServerResponse> {
        let caller: AdminCaller
        switch await authenticate(request) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let c): caller = c
        }
        var tenant: TenantID?
        if let raw = parameters["t"] {
            // Checked before existence: a key must not learn which other tenants exist.
            if case .tenantKey(_, let own) = caller, own.rawValue != raw {
                return .failure(refused(request, caller: caller, "this key may act on its own tenant only"))
            }
            guard let id = TenantID(raw), deps.control.snapshot.tenants[id] != nil else {
                return .failure(.error(status: .notFound, code: "tenant_not_found", description: "no such tenant"))
            }
            tenant = id
        }
        if access == .operator, caller != .operator {
            return .failure(refused(request, caller: caller, "this endpoint needs the operator token"))
        }
        return .success(Call(caller: caller, tenant: tenant, request: request, parameters: parameters))
    }

    private func authenticate(_ request: HTTPServerRequest) async -> Result<AdminCaller, HTTPServerResponse> {
        guard let token = adminBearerToken(request.headers) else {
            return .failure(unauthorized(request, why: request.headers.contains(name: "authorization") ? "malformed" : "missing"))
        }
        let presented = AdminKey.hash(token)
        if let operatorTokenHash, Secrets.constantTimeEquals(presented, operatorTokenHash) { return .success(.operator) }
        guard let id = AdminKey.id(of: token) else { return .failure(unauthorized(request, why: "unknown")) }
        let record: AdminKeyRecord?
        do {
            record = try await deps.store.adminKey(id: id)
        } catch {
            logger.error("admin key lookup failed", metadata: ["error": "\(error)"])
            return .failure(storeUnavailable())
        }
        guard let record, Secrets.constantTimeEquals(presented, record.secretHash) else {
            return .failure(unauthorized(request, why: "unknown"))
        }
        guard record.revokedAt == nil else { return .failure(unauthorized(request, why: "revoked", key: id)) }
        return .success(.tenantKey(id: record.id, tenant: record.tenant))
    }

    private func unauthorized(_ request: HTTPServerRequest, why: String, key: String? = nil) -> HTTPServerResponse {
        var metadata: Logger.Metadata = ["method": "\(request.method.rawValue)", "path": "\(AdminLogPath.redacted(request.path))", "reason": "\(why)"]
        if let key { metadata["key_id"] = "\(key)" }
        logger.info("admin request refused: not authenticated", metadata: metadata)
        return .error(
            status: .unauthorized, code: "unauthorized", description: "a valid operator token or tenant admin key is required",
            headers: ["WWW-Authenticate": "Bearer realm=\"gatehouse-admin\""])
    }

    private func refused(_ request: HTTPServerRequest, caller: AdminCaller, _ description: String) -> HTTPServerResponse {
        logger.warning(
            "admin request refused: not allowed",
            metadata: ["method": "\(request.method.rawValue)", "path": "\(AdminLogPath.redacted(request.path))", "actor": "\(caller.actor)"])
        return .error(status: .forbidden, code: "forbidden", description: description)
    }

    // MARK: - Shared helpers

    func storeUnavailable() -> HTTPServerResponse {
        .error(status: .serviceUnavailable, code: "store_unavailable", description: "the store is unavailable; nothing was changed",
               headers: ["Retry-After": "1"])
    }

    func notFound(_ what: String) -> HTTPServerResponse {
        .error(status: .notFound, code: "not_found", description: "no such \(what)")
    }

    /// 422 with the failing field paths (docs/admin-api.md "Conventions").
    func invalid(_ problems: [(path: String, message: String)]) -> HTTPServerResponse {
        .json(
            status: .unprocessableEntity,
            .object([
                "error": .string("invalid_request"),
                "error_description": .string(problems.map { $0.path.isEmpty ? $0.message : "\($0.path): \($0.message)" }.joined(separator: "; ")),
                "problems": .array(problems.map { .object(["path": .string($0.path), "message": .string($0.message)]) }),
            ]))
    }

    /// The request body as a JSON object (an empty body is `{}` when `emptyAllowed`).
    func jsonObject(_ request: HTTPServerRequest, emptyAllowed: Bool = false) -> Result<JSONValue, HTTPServerResponse> {
        if let type = request.headers.first(name: "content-type"),
            type.split(separator: ";").first.map({ $0.trimmingSpaces.lowercased() }) != "application/json"
        {
            return .failure(.error(status: .unsupportedMediaType, code: "unsupported_media_type", description: "send application/json"))
        }
        if request.body.isEmpty, emptyAllowed { return .success(.object([:])) }
        do {
            let value = try JSONParser.parse(request.body, limits: .init(maxDepth: 16, maxBytes: 64 * 1024))
            guard case .object = value else { return .failure(invalid([("", "the body must be a JSON object")])) }
            return .success(value)
        } catch {
            return .failure(invalid([("", "the body is not valid JSON (\(error.description))")]))
        }
    }

    /// `limit` (1…1000, default 100) from the query string.
    func pageLimit(_ request: HTTPServerRequest) -> Result<Int, HTTPServerResponse> {
        guard let text = request.queryParameters["limit"] else { return .success(100) }
        guard let n = Int(text), (1...1000).contains(n) else { return .failure(invalid([("limit", "must be a whole number from 1 to 1000")])) }
        return .success(n)
    }

    /// `{"items": [...], "next": cursor-or-null}` (docs/admin-api.md "Conventions").
    func page(_ items: [JSONValue], next: String?) -> HTTPServerResponse {
        .json(.object(["items": .array(items), "next": next.map(JSONValue.string) ?? .null]))
    }

    /// Writes an audit entry for an attempt that changed nothing. A store failure is logged:
    /// the attempt was refused anyway.
    func auditRefusal(_ call: Call, tenant: TenantID?, action: String, target: String, outcome: String, detail: String?) async {
        let entry = AuditEntry(
            tenant: tenant, time: deps.clock(), actor: call.caller.actor, action: action, target: target, outcome: outcome, detail: detail)
        do {
            try await deps.store.appendAudit(entry)
        } catch {
            logger.error("audit entry not stored", metadata: ["action": "\(action)", "error": "\(error)"])
        }
    }

    func auditEntry(_ call: Call, action: String, target: String, detail: String? = nil) -> AuditEntry {
        AuditEntry(tenant: call.tenant, time: deps.clock(), actor: call.caller.actor, action: action, target: target, outcome: "ok", detail: detail)
    }

    /// Logs a change that happened.
    func logChange(_ call: Call, action: String, target: String) {
        logger.notice(
            "admin change",
            metadata: ["actor": "\(call.caller.actor)", "tenant": "\(call.tenant?.rawValue ?? "-")", "action": "\(action)", "target": "\(target)"])
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
