import GatehouseCore
import Logging

extension OAuthFlows {
    /// Bodies of `POST /.gatehouse/oauth/flows` are two short strings; anything near this is abuse.
    static let maxCreateBodyBytes = 16 * 1024

    /// `POST /.gatehouse/oauth/flows` from its raw body `{"session_id": "…", "authorization_url": "…"}`
    /// (unknown members are ignored). See `createFlow(…sessionID:authorizationURL:…)`.
    public func createFlow(tenant: Tenant, principal: Principal, userToken: String, body: [UInt8], baseURL: String) async -> FlowResult {
        guard tenant.oauth != nil else { return Self.notConfigured }
        guard body.count <= Self.maxCreateBodyBytes else {
            return .jsonError(413, "request_too_large", "the request body is too large")
        }
        guard let value = try? JSONParser.parse(body, limits: JSONParser.Limits(maxDepth: 8, maxBytes: Self.maxCreateBodyBytes)),
            case .object(let members) = value
        else { return .jsonError(400, "invalid_request", "the body must be a JSON object") }
        guard let sessionID = members["session_id"]?.stringValue else {
            return .jsonError(422, "invalid_request", "session_id must be a string", field: "session_id")
        }
        guard let authorizationURL = members["authorization_url"]?.stringValue else {
            return .jsonError(422, "invalid_request", "authorization_url must be a string", field: "authorization_url")
        }
        return await createFlow(
            tenant: tenant, principal: principal, userToken: userToken, sessionID: sessionID,
            authorizationURL: authorizationURL, baseURL: baseURL)
    }

    /// Binds a flow to `principal` (the verified caller; `userToken` is the JWT it presented)
    /// and answers `201 {"start_url", "expires_in"}`.
    ///
    /// 404 `oauth_not_configured` when the tenant has no `oauth`; 422 naming the field for a bad
    /// `session_id` or a non-http(s) `authorization_url`; 409 when a live flow with this session
    /// id belongs to another principal. The caller's own flow: an unfinished one with the same
    /// authorization URL is returned again (same start URL), one with another URL is a 409, a
    /// completed one is replaced (see `register`).
    public func createFlow(
        tenant: Tenant, principal: Principal, userToken: String, sessionID: String, authorizationURL: String, baseURL: String
    ) async -> FlowResult {
        guard let oauth = tenant.oauth else { return Self.notConfigured }
        // The proxy authenticated the caller for this tenant; anything else is a wiring bug and
        // must not bind a flow across tenants.
        guard principal.tenant == tenant.id else {
            return .jsonError(403, "forbidden", "the caller does not belong to this tenant")
        }
        guard SessionBinding.isValidID(sessionID) else {
            return .jsonError(422, "invalid_request", "session_id must be 1-256 visible ASCII characters", field: "session_id")
        }
        guard Self.isAcceptableAuthorizationURL(authorizationURL) else {
            return .jsonError(
                422, "invalid_request", "authorization_url must be an absolute http or https URL without user info",
                field: "authorization_url")
        }
        guard !userToken.isEmpty else { return .jsonError(401, "unauthorized", "a bearer token is required") }
        let outcome = await register(
            tenant: tenant.id, ttl: oauth.flowTTLSeconds, principal: principal, userToken: userToken, sessionID: sessionID,
            authorizationURL: authorizationURL)
        switch outcome {
        case .registered(let record), .kept(let record):
            var base = baseURL
            while base.hasSuffix("/") { base.removeLast() }
            let remaining = Self.remainingSeconds(record, now: clock())
            return .json(
                201,
                .object([
                    "start_url": .string(base + Self.startPath + record.startHandle),
                    "expires_in": .number(String(remaining)),
                ]), reason: "flow_created")
        case .conflict:
            return .jsonError(409, "flow_conflict", "session_id is in use by another unexpired flow")
        case .busy:
            return .jsonError(409, "flow_conflict", "this flow is being registered by another request; retry")
        case .failed:
            return .jsonError(503, "temporarily_unavailable", "the flow could not be stored")
        }
    }

    /// Records the flow of an MCP URL-mode elicitation seen in an upstream response to
    /// `principal`: the `elicitationId` is the flow's session id, `url` its authorization URL.
    /// Invalid input and conflicts are ignored (logged at debug): the response goes on
    /// regardless. A repeat of the same elicitation by the same owner keeps the existing flow,
    /// so an upstream repeating itself does not reset a flow the user already started.
    ///
    /// Returns the flow's start path (`/.gatehouse/oauth/start/<handle>`, relative to the
    /// public base URL) for a caller that wants to point the client at it.
    @discardableResult
    public func recordElicitation(tenant: Tenant, principal: Principal, userToken: String, elicitationID: String, url: String) async
        -> String?
    {
        let log = logger.withFlow(tenant: tenant.id, sessionID: elicitationID)
        guard let oauth = tenant.oauth, principal.tenant == tenant.id, SessionBinding.isValidID(elicitationID),
            Self.isAcceptableAuthorizationURL(url), !userToken.isEmpty
        else {
            log.debug("elicitation not recorded: invalid or not configured")
            return nil
        }
        let outcome = await register(
            tenant: tenant.id, ttl: oauth.flowTTLSeconds, principal: principal, userToken: userToken, sessionID: elicitationID,
            authorizationURL: url)
        switch outcome {
        case .registered(let record), .kept(let record):
            return Self.startPath + record.startHandle
        case .conflict, .busy, .failed:
            log.debug("elicitation not recorded", metadata: ["outcome": "\(outcome)"])
            return nil
        }
    }

    enum Registration: CustomStringConvertible {
        case registered(OAuthFlowRecord)
        case kept(OAuthFlowRecord)
        case conflict
        case busy
        case failed

        var description: String {
            switch self {
            case .registered: "registered"
            case .kept: "kept"
            case .conflict: "conflict"
            case .busy: "busy"
            case .failed: "failed"
            }
        }
    }

    /// Check then write, serialised per flow by `gate` in this process and by the store across
    /// processes (`insertFlow` refuses to replace an unfinished flow: `SessionStoreError.flowExists`).
    ///
    /// An unexpired flow of another principal is never replaced, even when completed (a
    /// finished flow's id is not up for grabs until it expires). The owner's own unfinished
    /// flow is kept when the authorization URL is the same (registering twice is idempotent,
    /// and a start already done in the browser stays valid), and refused otherwise, because
    /// the store offers no way to replace a live flow; a completed one is replaced.
    func register(
        tenant: TenantID, ttl: Int, principal: Principal, userToken: String, sessionID: String, authorizationURL: String
    ) async -> Registration {
        let key = FlowKey(tenant: tenant, sessionID: sessionID)
        guard gate.tryEnter(key) else { return .busy }
        defer { gate.leave(key) }
        let log = logger.withFlow(tenant: tenant, sessionID: sessionID)
        let owner = BoundPrincipal(principal)
        let now = clock()
        do {
            if let existing = try await store.flow(tenant: tenant, sessionID: sessionID), now < existing.expiresAt {
                guard existing.principal == owner else {
                    log.info("OAuth flow refused: session id bound to another principal")
                    return .conflict
                }
                if existing.completedAt == nil {
                    return existing.authorizationURL == authorizationURL ? .kept(existing) : .conflict
                }
            }
            let record = OAuthFlowRecord(
                tenant: tenant, sessionID: sessionID, principal: owner, authorizationURL: authorizationURL,
                startHandle: FlowSecrets.random256(),
                sealedUserToken: try sealer.seal(userToken, tenant: tenant, sessionID: sessionID),
                createdAt: now, expiresAt: now + Double(max(1, ttl)))
            try await store.insertFlow(record)
            log.info("OAuth flow registered", metadata: ["sub": "\(owner.subject)"])
            return .registered(record)
        } catch SessionStoreError.flowExists {
            // Another process registered the same flow between our read and our write.
            return .conflict
        } catch {
            log.error("cannot store OAuth flow", metadata: ["error": "\(error)"])
            return .failed
        }
    }

    static let notConfigured = FlowResult.jsonError(404, "oauth_not_configured", "OAuth flows are not configured for this tenant")

    /// Absolute http(s) and no user info (`https://trusted@evil.example` misleads people).
    /// `ParsedURL` already refuses whitespace and control characters, so the URL is also safe
    /// to put in a `Location` header.
    static func isAcceptableAuthorizationURL(_ text: String) -> Bool {
        guard let url = ParsedURL(text) else { return false }
        return (url.scheme == "https" || url.scheme == "http") && !url.hasUserInfo
    }

    /// Whole seconds until the flow expires, at least 1 while it is live.
    static func remainingSeconds(_ record: OAuthFlowRecord, now: Double) -> Int {
        let left = record.expiresAt - now
        guard left > 0 else { return 0 }
        return max(1, Int(left.rounded(.up)))
    }
}

extension Logger {
    /// A logger naming the flow by tenant and a short hash of its session id (never the id).
    func withFlow(tenant: TenantID, sessionID: String) -> Logger {
        var copy = self
        copy[metadataKey: "tenant"] = "\(tenant.rawValue)"
        copy[metadataKey: "flow"] = "\(FlowSecrets.logID(sessionID))"
        return copy
    }
}
