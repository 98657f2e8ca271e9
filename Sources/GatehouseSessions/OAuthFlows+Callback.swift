import GatehouseCore
import Logging

extension OAuthFlows {
    /// How a callback proved it may complete a flow (for logs).
    enum Proof: String {
        case cookie
        case bearer
    }

    /// `GET /.gatehouse/oauth/callback?session_id=…`: completes the flow when the browser holds
    /// that flow's cookie secret, or presents a bearer token of the flow's owner in the flow's
    /// tenant (`bearerPrincipal`, verified by the proxy; `bearerToken` is its raw JWT).
    ///
    /// `tenants` is the current configuration (`ConfigSnapshot.tenants`): the completion URL is
    /// read at completion time, so a reload that changes it applies to running flows, and a
    /// flow whose tenant lost `oauth` cannot complete.
    ///
    /// 404 unknown, 403 not this browser/user, 410 expired or already used: each a static page,
    /// and nothing is sent upstream. On success the flow is marked completed first (atomically,
    /// at most once) and then POSTed to the completion URL; if that POST fails the answer is 502
    /// and the flow stays completed. It is not reopened on purpose: the POST may have reached the
    /// backend even though no answer came back, and a retryable flow would let a replay deliver
    /// the user's token a second time. The user starts a new flow instead.
    ///
    /// `requestTenant`: the tenant the callback request itself names (by Host, then path
    /// prefix). When set, only that tenant's flows can complete: another tenant's flow is
    /// unknown here (404), whatever proof comes with it.
    public func callback(
        sessionID: String, cookies: [String: String], bearerPrincipal: Principal?, bearerToken: String?,
        tenants: [TenantID: Tenant], requestTenant: TenantID? = nil
    ) async -> FlowResult {
        guard SessionBinding.isValidID(sessionID) else { return .page(404, .unknown, reason: "flow_unknown") }
        var candidates: [OAuthFlowRecord]
        do {
            candidates = try await store.flows(sessionID: sessionID)
            if let requestTenant { candidates = candidates.filter { $0.tenant == requestTenant } }
        } catch {
            logger.error("cannot read OAuth flows", metadata: ["error": "\(error)"])
            return .page(503, .unavailable, reason: "store_unavailable")
        }
        guard !candidates.isEmpty else { return .page(404, .unknown, reason: "flow_unknown") }
        let now = clock()

        // The same session id may exist in several tenants: the proof picks the flow.
        let proven = candidates.compactMap { flow in proof(for: flow, cookies: cookies, bearer: bearerPrincipal).map { (flow, $0) } }
        guard let (flow, proof) = proven.first(where: { Self.isLive($0.0, now: now) }) ?? proven.first else {
            // Nothing left to protect when every candidate is spent: say so rather than blame
            // the browser (its cookie expired together with the flow).
            if candidates.allSatisfy({ !Self.isLive($0, now: now) }) { return .page(410, .spent, reason: "flow_spent") }
            logger.withFlow(tenant: candidates[0].tenant, sessionID: sessionID).notice("OAuth callback refused: no valid proof")
            return .page(403, .forbidden, reason: "flow_forbidden")
        }
        let log = logger.withFlow(tenant: flow.tenant, sessionID: sessionID)
        guard Self.isLive(flow, now: now) else { return .page(410, .spent, reason: "flow_spent") }
        guard let oauth = tenants[flow.tenant]?.oauth else {
            log.warning("OAuth callback for a tenant without oauth configured")
            return .page(404, .unknown, reason: "oauth_not_configured")
        }
        // Opened before completing: completion erases the sealed token.
        var userToken = sealer.open(flow.sealedUserToken, tenant: flow.tenant, sessionID: sessionID)
        if userToken == nil, proof == .bearer, let bearerToken, !bearerToken.isEmpty {
            // The owner is here with a fresh token (the sealed one is unreadable, e.g. the key
            // file was replaced): deliver that one.
            userToken = bearerToken
        }
        guard let userToken else {
            log.error("OAuth flow token cannot be opened (key changed or row damaged)")
            return .page(500, .completionFailed, reason: "flow_token_unreadable")
        }

        do {
            guard try await store.completeFlow(tenant: flow.tenant, sessionID: sessionID, startHandle: flow.startHandle, now: now) else {
                log.notice("OAuth callback replayed")
                return .page(410, .spent, reason: "flow_spent")
            }
        } catch {
            log.error("cannot complete OAuth flow", metadata: ["error": "\(error)"])
            return .page(503, .unavailable, reason: "store_unavailable")
        }
        return await deliver(flow: flow, userToken: userToken, completionURL: oauth.completionURL, proof: proof, log: log)
    }

    private func deliver(flow: OAuthFlowRecord, userToken: String, completionURL: String, proof: Proof, log: Logger) async
        -> FlowResult
    {
        let body = JSONValue.object([
            "session_id": .string(flow.sessionID),
            "user_token": .string(userToken),
            "tenant": .string(flow.tenant.rawValue),
            "sub": .string(flow.principal.subject),
        ])
        let status: Int
        do {
            status = try await completionPoster.post(url: completionURL, body: Array(body.compactText.utf8))
        } catch {
            log.error("OAuth completion POST failed", metadata: ["error": "\(error)", "proof": "\(proof.rawValue)"])
            return .page(502, .completionFailed, reason: "completion_failed")
        }
        guard (200..<300).contains(status) else {
            log.error("OAuth completion refused", metadata: ["status": "\(status)", "proof": "\(proof.rawValue)"])
            return .page(502, .completionFailed, reason: "completion_refused")
        }
        log.info("OAuth flow completed", metadata: ["proof": "\(proof.rawValue)"])
        return .page(200, .completed, reason: "flow_completed")
    }

    /// The flow's own cookie holding the secret whose hash the start URL recorded, or a bearer
    /// principal that is the flow's owner in the flow's tenant.
    func proof(for flow: OAuthFlowRecord, cookies: [String: String], bearer: Principal?) -> Proof? {
        if let expected = flow.cookieHash,
            let presented = cookies[FlowSecrets.cookieName(tenant: flow.tenant, sessionID: flow.sessionID)],
            presented.utf8.count <= 128,
            FlowSecrets.constantTimeEquals(FlowSecrets.sha256Hex(presented), expected)
        {
            return .cookie
        }
        if let bearer, bearer.tenant == flow.tenant, BoundPrincipal(bearer) == flow.principal {
            return .bearer
        }
        return nil
    }

    static func isLive(_ flow: OAuthFlowRecord, now: Double) -> Bool {
        flow.completedAt == nil && now < flow.expiresAt
    }
}
