import GatehouseCore
import GatehouseHTTP
import GatehouseSessions
import NIOCore

extension ProxyExchange {
    /// `POST /.gatehouse/oauth/flows`, once the caller is authenticated and the body is complete.
    func bodyCollected() {
        guard stage == .collecting else { return }
        if bodyBytes > OAuthEndpoint.maxBodyBytes {
            respondLocally(.error(.payloadTooLarge, "body_too_large", "the request body is too large"), close: true)
            return
        }
        guard requestEnded else { return }
        guard let tenant = tenant?.tenant, let principal, let token else {
            respondLocally(.error(.internalServerError, "internal_error", "the flow could not be created"), close: true)
            return
        }
        let flows = runtime.flows
        // A request routed by its token alone names no tenant by Host or path: the start URL
        // then carries the tenant's prefix, so that the browser's requests name the tenant.
        let prefix = routedTenant == nil ? (tenant.match.pathPrefix ?? "") : oauthBasePrefix
        let baseURL = "\(scheme)://\(host ?? "localhost")\(prefix)"
        let body = flowBody
        answer("create") { await flows.createFlow(tenant: tenant, principal: principal, userToken: token, body: body, baseURL: baseURL) }
    }

    /// `GET /.gatehouse/oauth/start/<handle>`: opened in the user's browser.
    func startFlow(handle: String) {
        let flows = runtime.flows
        let secure = scheme == "https"
        let tenant = routedTenant
        let prefix = oauthPrefix
        answer("start") { await flows.start(handle: handle, secure: secure, tenant: tenant, pathPrefix: prefix) }
    }

    /// `GET /.gatehouse/oauth/callback?session_id=…`: proven by the flow cookie, or by a bearer
    /// token of the flow's owner (`principal`, verified like any data-plane token).
    func completeFlow(principal: Principal?) {
        let target = head.target
        let query = target.firstIndex(of: "?").map { String(target[target.index(after: $0)...]) } ?? ""
        let sessionID = FormURLEncoding.firstValues(FormURLEncoding.parse(query))["session_id"] ?? ""
        var cookies: [String: String] = [:]
        for f in head.fields where f.kind == .cookie {
            for pair in head.value(f).split(separator: ";") {
                let trimmed = pair.trimmingSpaces()
                guard let eq = trimmed.firstIndex(of: "=") else { continue }
                let name = String(trimmed[..<eq])
                if cookies[name] == nil { cookies[name] = String(trimmed[trimmed.index(after: eq)...]) }
            }
        }
        let flows = runtime.flows
        let tenants = config.snapshot.tenants
        let token = principal == nil ? nil : self.token
        let browserCookies = cookies
        let routed = routedTenant
        answer("callback") {
            await flows.callback(
                sessionID: sessionID, cookies: browserCookies, bearerPrincipal: principal, bearerToken: token, tenants: tenants,
                requestTenant: routed)
        }
    }

    /// Runs `work` (the flow's store calls, and a callback's completion post) off the event loop
    /// and answers with its result.
    func answer(_ step: String, _ work: @escaping @Sendable () async -> FlowResult) {
        stage = .answering
        let promise = loop.eventLoop.makePromise(of: FlowResult.self)
        promise.completeWithTask(work)
        if let span = storeSpan("oauth flow " + step, operation: step) {
            promise.futureResult.assumeIsolated().whenSuccess { result in ExchangeTrace.end(span, error: result.status >= 500 ? result.reason : nil) }
        }
        promise.futureResult.assumeIsolated().whenSuccess { result in
            guard self.stage == .answering, self.client?.isServing(self) == true else { return }
            var headers = ResponseFields()
            for (name, value) in result.headers { headers.add(name: name, value: value) }
            self.respondLocally(
                LocalResponse(status: ResponseStatus(statusCode: result.status), headers: headers, body: result.body, reason: result.reason),
                close: false)
        }
    }

    /// Watches JSON and event-stream responses of tenants with OAuth flows for MCP URL-mode
    /// elicitations (`-32042`), which become flow bindings for the caller. Bytes are inspected as
    /// they pass; the response itself is never held back.
    func startElicitationScan(_ response: ResponseHead) {
        guard tenant?.tenant.oauth != nil, principal != nil, tokenRange != nil else { return }
        // An encoded (gzip…) body cannot be read as it passes: say so rather than scan noise.
        let encoded = response.first(.contentEncoding).map { response.value($0).lowercased() != "identity" } ?? false
        let scanner = ElicitationScanner(contentType: encoded ? nil : response.first(.contentType).map { response.value($0) })
        guard scanner.isActive else { return }
        self.scanner = scanner
    }

    func recordElicitations(_ found: [Elicitation]) {
        guard !found.isEmpty, let tenant = tenant?.tenant, let principal, let token else { return }
        let flows = runtime.flows
        Task {
            for e in found {
                await flows.recordElicitation(tenant: tenant, principal: principal, userToken: token, elicitationID: e.elicitationID, url: e.url)
            }
        }
    }
}
