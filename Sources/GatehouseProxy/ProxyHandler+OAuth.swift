import GatehouseCore
import GatehouseHTTP
import GatehouseSessions
import NIOCore
import NIOHTTP1

/// The OAuth flow endpoints under `/.gatehouse/oauth/` (DESIGN 6).
enum OAuthEndpoint {
    case createFlow
    case callback
    case start(handle: String)
    case refuse(LocalResponse)

    static let flowsPath = "/.gatehouse/oauth/flows"
    static let callbackPath = "/.gatehouse/oauth/callback"
    /// A flow-creation body is a small JSON object.
    static let maxBodyBytes = 64 * 1024

    static func match(method: HTTPMethod, path: Substring) -> OAuthEndpoint? {
        if path == flowsPath {
            return method == .POST ? .createFlow : .refuse(methodNotAllowed("POST"))
        }
        if path == callbackPath {
            return method == .GET ? .callback : .refuse(methodNotAllowed("GET"))
        }
        if path.hasPrefix(OAuthFlows.startPath) {
            guard method == .GET else { return .refuse(methodNotAllowed("GET")) }
            return .start(handle: String(path.dropFirst(OAuthFlows.startPath.count)))
        }
        return nil
    }

    private static func methodNotAllowed(_ allow: String) -> LocalResponse {
        var headers = HTTPHeaders()
        headers.add(name: "allow", value: allow)
        return .error(.methodNotAllowed, "method_not_allowed", "use \(allow) here", headers: headers)
    }
}

extension ProxyHandler {
    /// `POST /.gatehouse/oauth/flows`, once the caller is authenticated and the body is complete.
    func bodyCollected() {
        guard phase == .collecting, let ex = exchange else { return }
        if ex.bodyBytes > OAuthEndpoint.maxBodyBytes {
            respondLocally(.error(.payloadTooLarge, "body_too_large", "the request body is too large"), close: true)
            return
        }
        guard ex.requestEnded else {
            resumeReads()
            return
        }
        guard let tenant = ex.tenant?.tenant, let principal = ex.principal, let token = ex.token else {
            respondLocally(.error(.internalServerError, "internal_error", "the flow could not be created"), close: true)
            return
        }
        var body: [UInt8] = []
        for part in ex.buffered {
            if case .body(let buffer) = part { body.append(contentsOf: buffer.readableBytesView) }
        }
        let flows = runtime.flows
        // A request routed by its token alone names no tenant by Host or path: the start URL
        // then carries the tenant's prefix, so that the browser's requests name the tenant.
        let prefix = ex.routedTenant == nil ? (tenant.match.pathPrefix ?? "") : ex.oauthBasePrefix
        let baseURL = "\(scheme)://\(ex.host ?? "localhost")\(prefix)"
        let requestBody = body
        answer { await flows.createFlow(tenant: tenant, principal: principal, userToken: token, body: requestBody, baseURL: baseURL) }
    }

    /// `GET /.gatehouse/oauth/start/<handle>`: opened in the user's browser.
    func startFlow(handle: String) {
        let flows = runtime.flows
        let secure = scheme == "https"
        let tenant = exchange?.routedTenant
        let prefix = exchange?.oauthPrefix ?? ""
        answer { await flows.start(handle: handle, secure: secure, tenant: tenant, pathPrefix: prefix) }
    }

    /// `GET /.gatehouse/oauth/callback?session_id=…`: proven by the flow cookie, or by a bearer
    /// token of the flow's owner (`principal`, verified like any data-plane token).
    func completeFlow(principal: Principal?) {
        guard let ex = exchange else { return }
        let query = ex.head.uri.firstIndex(of: "?").map { String(ex.head.uri[ex.head.uri.index(after: $0)...]) } ?? ""
        let sessionID = FormURLEncoding.firstValues(FormURLEncoding.parse(query))["session_id"] ?? ""
        var cookies: [String: String] = [:]
        for header in ex.head.headers["cookie"] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.trimmingSpaces()
                guard let eq = trimmed.firstIndex(of: "=") else { continue }
                let name = String(trimmed[..<eq])
                if cookies[name] == nil { cookies[name] = String(trimmed[trimmed.index(after: eq)...]) }
            }
        }
        let flows = runtime.flows
        let tenants = config.snapshot.tenants
        let token = principal == nil ? nil : ex.token
        let browserCookies = cookies
        let routed = ex.routedTenant
        answer {
            await flows.callback(
                sessionID: sessionID, cookies: browserCookies, bearerPrincipal: principal, bearerToken: token, tenants: tenants,
                requestTenant: routed)
        }
    }

    /// Runs `work` off the event loop and answers with its result.
    func answer(_ work: @escaping @Sendable () async -> FlowResult) {
        guard let context else { return }
        phase = .answering
        pauseReads()
        let generation = self.generation
        let promise = context.eventLoop.makePromise(of: FlowResult.self)
        promise.completeWithTask(work)
        promise.futureResult.assumeIsolated().whenSuccess { result in
            guard self.generation == generation, self.phase == .answering else { return }
            var headers = HTTPHeaders()
            for (name, value) in result.headers { headers.add(name: name, value: value) }
            self.respondLocally(
                LocalResponse(status: HTTPResponseStatus(statusCode: result.status), headers: headers, body: result.body, reason: result.reason),
                close: false)
        }
    }
}

extension ProxyHandler {
    /// Watches JSON and event-stream responses of tenants with OAuth flows for MCP URL-mode
    /// elicitations (`-32042`), which become flow bindings for the caller. Bytes are inspected as
    /// they pass; the response itself is never held back.
    func startElicitationScan(head: HTTPResponseHead) {
        guard let ex = exchange, ex.tenant?.tenant.oauth != nil, ex.principal != nil, ex.token != nil else { return }
        // An encoded (gzip…) body cannot be read as it passes: say so rather than scan noise.
        let encoded = head.headers.first(name: "content-encoding").map { $0.lowercased() != "identity" } ?? false
        let scanner = ElicitationScanner(contentType: encoded ? nil : head.headers.first(name: "content-type"))
        guard scanner.isActive else { return }
        exchange?.scanner = scanner
    }

    func recordElicitations(_ found: [Elicitation]) {
        guard !found.isEmpty, let ex = exchange, let tenant = ex.tenant?.tenant, let principal = ex.principal, let token = ex.token else { return }
        let flows = runtime.flows
        Task {
            for e in found {
                await flows.recordElicitation(tenant: tenant, principal: principal, userToken: token, elicitationID: e.elicitationID, url: e.url)
            }
        }
    }
}
