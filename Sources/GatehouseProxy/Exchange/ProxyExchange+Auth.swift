import GatehouseCore
import GatehouseIdentity
import NIOCore
import Tracing

extension ProxyExchange {
    /// The token is verified: from this loop's cache (no hashing, no lock), else the
    /// process-wide cache, else in full on the loop — asynchronously only when the IdP's keys
    /// must be fetched first.
    func authenticate() {
        guard let range = tokenRange else { return }
        let useCache = config.hot.cacheTokens
        let now = runtime.clock()
        if useCache,
            let entry = head.withBytes({ p in
                loop.tokens.lookup(UnsafeRawBufferPointer(rebasing: p[range]), scope: routedTenant, generation: configGeneration, now: now)
            })
        {
            loop.stats.tokenCache(hit: true)
            // No span for a token this loop verified before: a flag on the server span.
            trace?.tokenCached = true
            verified = entry
            authenticated(entry.principal)
            return
        }
        if let trace { trace.verify = trace.child("verify token", kind: .internal) }
        let token = head.string(range)
        let snapshot = config.snapshot
        if let result = runtime.authenticator.authenticateNow(token: token, tenant: routedTenant, snapshot: snapshot) {
            switch result {
            case .success(let principal):
                remember(principal, now: now)
                authenticated(principal)
            case .failure(let failure):
                authenticationFailed(failure)
            }
            return
        }
        stage = .authenticating
        let authenticator = runtime.authenticator
        let scope = routedTenant
        let promise = loop.eventLoop.makePromise(of: Result<Principal, AuthError>.self)
        // The verify span is the task's context: a key-set fetch the token waits for is its child.
        let context = trace?.verify?.context
        promise.completeWithTask {
            await ServiceContext.$current.withValue(context) {
                await authenticator.authenticate(token: token, tenant: scope, snapshot: snapshot)
            }
        }
        promise.futureResult.assumeIsolated().whenSuccess { result in
            guard self.stage == .authenticating, self.client?.isServing(self) == true else { return }
            switch result {
            case .success(let principal):
                self.remember(principal, now: self.runtime.clock())
                self.authenticated(principal)
            case .failure(let failure):
                self.authenticationFailed(failure)
            }
        }
    }

    /// Keeps a verification in this loop's cache, with the header lines it propagates.
    func remember(_ principal: Principal, now: Double) {
        guard config.hot.cacheTokens, let range = tokenRange, let tenant = config.tenants[principal.tenant] else { return }
        let entry = VerifiedEntry(
            token: head.withBytes { Array($0[range]) }, scope: routedTenant, generation: configGeneration, principal: principal,
            tenant: tenant, validUntil: Double(principal.expiresAt) + config.hot.clockSkewSeconds,
            propagated: PropagatedLines.build(tenant: tenant, principal: principal, logger: runtime.logger))
        loop.tokens.insert(entry)
        verified = entry
    }

    func authenticationFailed(_ failure: AuthError) {
        trace?.endVerify(error: failure.reason)
        if local == .callback {
            // A callback may prove itself with the flow cookie instead; a bad bearer is no proof.
            completeFlow(principal: nil)
            return
        }
        runtime.metrics.authFailures.increment([tenant?.tenant.id.rawValue ?? "-", failure.reason])
        if failure.kind != .missingToken {
            runtime.logger.info(
                "authentication failed",
                metadata: [
                    "tenant": "\(tenant?.tenant.id.rawValue ?? "-")", "reason": "\(failure.reason)", "detail": "\(failure.detail)",
                    "request_id": "\(requestID.string)",
                ])
        }
        let prm = ProtectedResourceMetadata.url(scheme: scheme, host: host, tenant: tenant)
        respondLocally(.authFailure(failure, resourceMetadataURL: prm, scopes: tenant?.scopesSupported ?? []), close: false)
    }

    // MARK: - After authentication

    func authenticated(_ principal: Principal) {
        if let span = trace?.verify {
            if span.isRecording {
                span.attributes["gatehouse.token.issuer"] = principal.issuer
                span.attributes["gatehouse.tenant"] = principal.tenant.rawValue
            }
            trace?.endVerify()
        }
        guard let tenant = config.tenants[principal.tenant] else {
            authenticationFailed(.invalid("unknown_issuer", "tenant vanished during reload"))
            return
        }
        if self.tenant == nil {
            // Routed by issuer: strip this tenant's headers too (already covered by the union of
            // every tenant's, but keep the rule explicit).
            Admission.markStripped(&head, config: config, tenant: tenant)
        }
        self.tenant = tenant
        self.principal = principal
        switch local {
        case .createFlow?:
            stage = .collecting
            if requestEnded {
                bodyCollected()
            } else {
                client?.bodyWanted()
            }
            return
        case .callback?:
            completeFlow(principal: principal)
            return
        case nil:
            break
        }
        let now = monotonicSeconds()
        // Admitted once per request, before any store lookup below: the tenant's rate limit
        // also bounds how often its callers can make a replica ask the database.
        if !rateAdmitted {
            if case .limited(let retryAfter) = tenant.limiter.admitRate(now: now) {
                var headers = ResponseFields()
                headers.add(name: "retry-after", value: String(retryAfter))
                respondLocally(.error(.tooManyRequests, "rate_limited", "too many requests for this tenant", headers: headers), close: false)
                return
            }
            if let subjects = tenant.limiter.subjects {
                let key = SubjectLimiter.Key(issuer: principal.issuer, subject: principal.subject)
                switch subjects.admit(key, now: now) {
                case .allowed(let slot):
                    if slot { subjectSlot = key }
                case .rateLimited(let retryAfter):
                    var headers = ResponseFields()
                    headers.add(name: "retry-after", value: String(retryAfter))
                    respondLocally(.error(.tooManyRequests, "rate_limited", "too many requests for this caller", headers: headers), close: false, reason: "subject_rate_limited")
                    return
                case .concurrencyLimited:
                    var headers = ResponseFields()
                    headers.add(name: "retry-after", value: "1")
                    respondLocally(
                        .error(.tooManyRequests, "concurrency_limited", "too many concurrent requests for this caller", headers: headers), close: false,
                        reason: "subject_concurrency_limited")
                    return
                }
            }
            rateAdmitted = true
        }
        if readsMCPBody(tenant) {
            // Before any session is bound or looked up: a refused call leaves nothing behind.
            collectMCPBody()
            return
        }
        let unseen = unseenServerSessions(tenant: tenant)
        if !unseen.isEmpty {
            fetchSessionsThenContinue(unseen, principal: principal)
            return
        }
        guard tenant.limiter.acquireSlot() else {
            var headers = ResponseFields()
            headers.add(name: "retry-after", value: "1")
            respondLocally(
                .error(.tooManyRequests, "concurrency_limited", "too many concurrent requests for this tenant", headers: headers),
                close: false)
            return
        }
        slotHeld = true
        var order = tenant.upstreams.attemptOrder(now: now)
        let newBindings: [SessionBinding]
        switch checkSessions(tenant: tenant, principal: principal, plannedUpstream: order.first) {
        case .refuse(let response):
            respondLocally(response, close: false)
            return
        case .proceed(let sticky, let stickyOnly, let bindings):
            if let sticky {
                order = stickyOnly ? [sticky] : [sticky] + order.filter { $0 !== sticky }
            }
            newBindings = bindings
        }
        attempts = order
        attemptIndex = 0
        if newBindings.isEmpty {
            // (An HTTP/2 stream starts only once the read it came in is processed whole: a reset
            // in that read ended it before it got here.)
            connectNext()
        } else {
            persistThenConnect(newBindings)
        }
    }
}
