import GatehouseCore

extension OAuthFlows {
    /// `GET /.gatehouse/oauth/start/<handle>`, opened in the user's browser: sets the flow's
    /// cookie and redirects (302) to the authorization URL. Unknown, expired and completed
    /// flows get a 404 page.
    ///
    /// The start URL may be opened again; each opening issues a new cookie secret and the last
    /// one counts. Making it single-use would break flows whose link was fetched first by a
    /// chat client's link preview. Reopening gains an attacker nothing: the cookie only lets a
    /// browser complete the flow with its owner's token, never with someone else's.
    ///
    /// `secure`: the request came over https (adds `Secure` to the cookie). `tenant`: the tenant
    /// the request names by Host or path prefix, if any: another tenant's flow is unknown here.
    /// `pathPrefix`: the tenant prefix the start URL was opened under; the cookie is scoped to
    /// `<pathPrefix>/.gatehouse/oauth/`, where the callback under the same prefix will send it.
    public func start(handle: String, secure: Bool, tenant: TenantID? = nil, pathPrefix: String = "") async -> FlowResult {
        guard FlowSecrets.isWellFormedSecret(handle) else { return .page(404, .unknown, reason: "flow_unknown") }
        let found: OAuthFlowRecord?
        do {
            found = try await store.flow(startHandle: handle)
        } catch {
            logger.error("cannot read OAuth flow", metadata: ["error": "\(error)"])
            return .page(503, .unavailable, reason: "store_unavailable")
        }
        let now = clock()
        guard let flow = found, flow.completedAt == nil, now < flow.expiresAt, tenant == nil || tenant == flow.tenant,
            // Checked again on the way out: the stored value is the one that reaches `Location`.
            Self.isAcceptableAuthorizationURL(flow.authorizationURL)
        else { return .page(404, .unknown, reason: "flow_unknown") }
        let log = logger.withFlow(tenant: flow.tenant, sessionID: flow.sessionID)

        let secret = FlowSecrets.random256()
        do {
            try await store.setFlowCookie(
                tenant: flow.tenant, sessionID: flow.sessionID, startHandle: handle, cookieHash: FlowSecrets.sha256Hex(secret))
        } catch SessionStoreError.flowNotFound {
            // Swept or replaced since it was read.
            return .page(404, .unknown, reason: "flow_unknown")
        } catch {
            log.error("cannot store OAuth flow cookie", metadata: ["error": "\(error)"])
            return .page(503, .unavailable, reason: "store_unavailable")
        }
        var cookie = "\(FlowSecrets.cookieName(tenant: flow.tenant, sessionID: flow.sessionID))=\(secret)"
        cookie += "; Path=\(pathPrefix)\(Self.cookiePath); HttpOnly; SameSite=Lax; Max-Age=\(Self.remainingSeconds(flow, now: now))"
        if secure { cookie += "; Secure" }
        log.info("OAuth flow started")
        return FlowResult(
            status: 302,
            headers: [
                ("Location", flow.authorizationURL),
                ("Set-Cookie", cookie),
                ("Cache-Control", "no-store"),
                // The start URL is a capability: it must not leak to the provider as a Referer.
                ("Referrer-Policy", "no-referrer"),
            ],
            body: [], reason: "flow_started")
    }
}
