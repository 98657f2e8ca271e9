import GatehouseCore
import GatehouseSessions
import NIOCore
import Tracing

/// Sessions on the request path (docs/sessions-and-oauth.md "Session binding"): a session started by one
/// user can never be used by another.
extension ProxyExchange {
    enum SessionGate {
        /// Forward; `sticky` is the instance the session lives on (`stickyOnly`: no other will do).
        case proceed(sticky: UpstreamInstance?, stickyOnly: Bool, newBindings: [SessionBinding])
        case refuse(LocalResponse)
    }

    /// The request's fields for a session rule (folded name equal to the rule's canonical one).
    func sessionFields(canonical: String, hash: UInt64) -> [Int] {
        var out: [Int] = []
        for i in head.fields.indices where head.fields[i].foldedHash == hash && !head.fields[i].dropped {
            let f = head.fields[i]
            let same = head.withBytes { p in
                guard f.nameLength == canonical.utf8.count else { return false }
                var j = Int(f.nameStart)
                for c in canonical.utf8 {
                    if HTTPBytes.fold(p[j]) != c { return false }
                    j += 1
                }
                return true
            }
            if same { out.append(i) }
        }
        return out
    }

    /// Checks every session header of the request against the table. Server-issued ids must be
    /// bound to the caller (else 404, as if they did not exist); client-issued ids are bound on
    /// first use (trust on first use) and refused to anyone else (403).
    func checkSessions(tenant: CompiledTenant, principal: Principal, plannedUpstream: UpstreamInstance?) -> SessionGate {
        guard !tenant.sessionRules.isEmpty else { return .proceed(sticky: nil, stickyOnly: false, newBindings: []) }
        let table = runtime.sessions
        let now = runtime.clock()
        let caller = BoundPrincipal(principal)
        let ttl = Double(tenant.tenant.sessionIdleTTLSeconds)
        var sticky: UpstreamInstance?
        var stickyOnly = false
        var newBindings: [SessionBinding] = []
        for (index, (canonical, rule)) in tenant.sessionRules.enumerated() {
            let found = sessionFields(canonical: canonical, hash: tenant.sessionHashes[index])
            guard let first = found.first else { continue }
            let id = head.value(head.fields[first])
            guard found.count == 1, SessionBinding.isValidID(id) else {
                return .refuse(.error(.badRequest, "invalid_session_id", "the session header is malformed or repeated"))
            }
            // The upstream sees exactly the header that was checked, in its configured spelling.
            if head.name(head.fields[first]) != rule.header {
                head.fields[first].dropped = true
                var lines = sessionLines ?? ByteBufferAllocator().buffer(capacity: 64)
                lines.writeString(rule.header)
                lines.writeStaticString(": ")
                lines.writeString(id)
                lines.writeCRLF()
                sessionLines = lines
            }
            let key = SessionKey(tenant: tenant.tenant.id, header: rule.header, id: id)
            switch rule.issuedBy {
            case .server:
                let binding = table.lookup(key, now: now)
                guard let binding, binding.principal == caller else {
                    let reason = binding == nil ? "unknown" : binding!.principal.isRevoked ? "revoked" : "other_principal"
                    sessionRefused(key, bound: binding?.principal, caller: caller, reason: reason)
                    return .refuse(.error(.notFound, "session_not_found", "no such session"))
                }
                if let name = binding.upstream {
                    guard let instance = tenant.upstreams.instances.first(where: { $0.upstream.description == name }) else {
                        // The instance the session lived on is gone from the configuration.
                        sessionRefused(key, bound: binding.principal, caller: caller, reason: "instance_gone")
                        return .refuse(.error(.notFound, "session_not_found", "no such session"))
                    }
                    sticky = instance
                    stickyOnly = true
                }
                table.touch(key, ttl: ttl, now: now)
            case .client:
                switch table.claim(key, principal: caller, upstream: plannedUpstream?.upstream.description, issuedBy: .client, ttl: ttl, now: now) {
                case .existing(let binding):
                    table.touch(key, ttl: ttl, now: now)
                    if sticky == nil, let name = binding.upstream {
                        sticky = tenant.upstreams.instances.first { $0.upstream.description == name }
                    }
                case .conflict(let binding):
                    if binding.principal.isRevoked {
                        sessionRefused(key, bound: binding.principal, caller: caller, reason: "revoked")
                        return .refuse(.error(.forbidden, "session_forbidden", "this session was revoked"))
                    }
                    sessionRefused(key, bound: binding.principal, caller: caller, reason: "other_principal")
                    return .refuse(.error(.forbidden, "session_forbidden", "this session belongs to another user"))
                case .bound(let binding):
                    newBindings.append(binding)
                }
            }
            sessionKeys.append(key)
        }
        return .proceed(sticky: sticky, stickyOnly: stickyOnly, newBindings: newBindings)
    }

    enum Persisted {
        case durable
        /// Another writer of the store (another replica) bound this id first.
        case lost(SessionBinding)
        case failed
    }

    /// Writes `bindings` to the store off the event loop, each atomically against other writers.
    func persist(_ bindings: [SessionBinding]) -> EventLoopFuture<Persisted> {
        let table = runtime.sessions
        let span = storeSpan("store persist session bindings", operation: "persist", count: bindings.count)
        let promise = loop.eventLoop.makePromise(of: Persisted.self)
        if let span {
            promise.futureResult.assumeIsolated().whenSuccess { outcome in
                switch outcome {
                case .durable: ExchangeTrace.end(span)
                case .lost: ExchangeTrace.end(span, error: "bound_elsewhere")
                case .failed: ExchangeTrace.end(span, error: "store_unavailable")
                }
            }
        }
        promise.completeWithTask {
            do {
                for b in bindings {
                    let winner = try await table.persist(b)
                    if winner.principal != b.principal { return .lost(winner) }
                }
                return .durable
            } catch {
                return .failed
            }
        }
        return promise.futureResult
    }

    /// A span for a call to the store (bindings, OAuth flows), when tracing is on.
    func storeSpan(_ name: String, operation: String, count: Int? = nil) -> (any Span)? {
        guard let trace else { return nil }
        let span = trace.child(name, kind: .client)
        if span.isRecording {
            span.attributes["db.system.name"] = runtime.sessions.shared ? "postgresql" : "sqlite"
            span.attributes["db.operation.name"] = operation
            if let count { span.attributes["gatehouse.session.count"] = count }
        }
        return span
    }

    /// Client-issued bindings are durable before the request goes upstream.
    func persistThenConnect(_ bindings: [SessionBinding]) {
        stage = .waitingForStore
        persist(bindings).assumeIsolated().whenSuccess { outcome in
            guard self.stage == .waitingForStore, self.client?.isServing(self) == true else { return }
            switch outcome {
            case .durable:
                self.connectNext()
            case .lost(let winner):
                guard let principal = self.principal else { return }
                let caller = BoundPrincipal(principal)
                let revoked = winner.principal.isRevoked
                self.sessionRefused(winner.key, bound: winner.principal, caller: caller, reason: revoked ? "revoked" : "other_principal")
                self.respondLocally(
                    .error(.forbidden, "session_forbidden", revoked ? "this session was revoked" : "this session belongs to another user"),
                    close: false)
            case .failed:
                self.runtime.logger.error("session binding not persisted", metadata: ["request_id": "\(self.requestID.string)"])
                self.respondLocally(.error(.serviceUnavailable, "store_unavailable", "the session store is unavailable"), close: false)
            }
        }
    }

    /// On a store shared with other replicas, the server-issued session ids of this request
    /// that memory does not hold: another replica may have bound them.
    func unseenServerSessions(tenant: CompiledTenant) -> [SessionKey] {
        guard runtime.sessions.shared, !sessionsFetched else { return [] }
        let now = runtime.clock()
        var keys: [SessionKey] = []
        for (index, (canonical, rule)) in tenant.sessionRules.enumerated() where rule.issuedBy == .server {
            let found = sessionFields(canonical: canonical, hash: tenant.sessionHashes[index])
            guard found.count == 1 else { continue }
            let id = head.value(head.fields[found[0]])
            guard SessionBinding.isValidID(id) else { continue }
            let key = SessionKey(tenant: tenant.tenant.id, header: rule.header, id: id)
            if runtime.sessions.lookup(key, now: now) == nil { keys.append(key) }
        }
        return keys
    }

    /// Reads `keys` from the store into memory, then carries on with `principal`.
    func fetchSessionsThenContinue(_ keys: [SessionKey], principal: Principal) {
        sessionsFetched = true
        stage = .waitingForStore
        let table = runtime.sessions
        let promise = loop.eventLoop.makePromise(of: Bool.self)
        if let span = storeSpan("store fetch session bindings", operation: "fetch", count: keys.count) {
            promise.futureResult.assumeIsolated().whenSuccess { ok in ExchangeTrace.end(span, error: ok ? nil : "store_unavailable") }
        }
        promise.completeWithTask {
            do {
                for key in keys { _ = try await table.fetch(key) }
                return true
            } catch {
                return false
            }
        }
        promise.futureResult.assumeIsolated().whenSuccess { ok in
            guard self.stage == .waitingForStore, self.client?.isServing(self) == true else { return }
            if ok {
                self.stage = .admitting
                self.authenticated(principal)
            } else {
                self.runtime.logger.error("session lookup failed", metadata: ["request_id": "\(self.requestID.string)"])
                self.respondLocally(.error(.serviceUnavailable, "store_unavailable", "the session store is unavailable"), close: false)
            }
        }
    }

    /// Response-side rules: a server-issued session id seen for the first time is bound to the
    /// caller and the instance that issued it; DELETE answered 2xx, or a 404 for the session,
    /// ends the binding. Returns the new bindings that must be durable before the head goes out.
    func sessionsAfterResponse(_ response: ResponseHead, instance: UpstreamInstance) -> [SessionBinding] {
        guard let tenant, let principal, !tenant.sessionRules.isEmpty else { return [] }
        let table = runtime.sessions
        let status = response.status
        if !sessionKeys.isEmpty {
            // DELETE answered 2xx ends any session it carried. A 404 ends only server-issued
            // sessions (the MCP way of saying "this session is gone"): a client-issued binding
            // must not fall to a 404, or a stray 404 would let the next caller claim the id.
            let serverHeaders = Set(tenant.sessionRules.filter { $0.rule.issuedBy == .server }.map(\.canonical))
            let ended: [SessionKey]
            if head.method == .delete, (200..<300).contains(status) {
                ended = sessionKeys
            } else if status == 404 {
                ended = sessionKeys.filter { serverHeaders.contains($0.header) }
            } else {
                ended = []
            }
            if !ended.isEmpty {
                for key in ended { table.end(key) }
                return []
            }
        }
        let now = runtime.clock()
        let caller = BoundPrincipal(principal)
        var fresh: [SessionBinding] = []
        for (index, (canonical, rule)) in tenant.sessionRules.enumerated() where rule.issuedBy == .server {
            guard let field = response.first(canonical: canonical, hash: tenant.sessionHashes[index]) else { continue }
            let value = response.value(field)
            let key = SessionKey(tenant: tenant.tenant.id, header: rule.header, id: value)
            if sessionKeys.contains(key) { continue }
            guard SessionBinding.isValidID(value) else {
                runtime.logger.warning("upstream issued an unusable session id", metadata: ["tenant": "\(tenant.tenant.id)", "header": "\(rule.header)"])
                continue
            }
            switch table.claim(
                key, principal: caller, upstream: instance.upstream.description, issuedBy: .server,
                ttl: Double(tenant.tenant.sessionIdleTTLSeconds), now: now)
            {
            case .bound(let binding): fresh.append(binding)
            case .existing: break
            case .conflict(let binding):
                // The upstream handed out an id that is someone else's: the caller will be refused
                // when it uses it. Worth an operator's attention.
                runtime.logger.warning(
                    "upstream issued a session id already bound to another principal",
                    metadata: [
                        "tenant": "\(tenant.tenant.id)", "session": "\(SessionTable.logLabel(value))",
                        "bound_sub": "\(binding.principal.subject)", "caller_sub": "\(caller.subject)",
                    ])
            }
        }
        return fresh
    }

    /// Holds the response until `bindings` are durable, then lets it through in order.
    func holdResponse(_ outgoing: OutgoingHead, until bindings: [SessionBinding]) {
        heldHead = outgoing
        held = []
        persist(bindings).assumeIsolated().whenSuccess { outcome in
            guard self.client?.isServing(self) == true, self.stage != .done, let head = self.heldHead else { return }
            if case .lost(let winner) = outcome {
                // As when memory knew it: the upstream handed out someone else's id; the caller
                // will be refused when it uses it.
                self.runtime.logger.warning(
                    "upstream issued a session id already bound to another principal",
                    metadata: [
                        "tenant": "\(winner.key.tenant)", "session": "\(SessionTable.logLabel(winner.key.id))",
                        "bound_sub": "\(winner.principal.subject)", "caller_sub": "\(self.principal?.subject ?? "-")",
                    ])
            }
            let parts = self.held ?? []
            // Reads held back while the response waited go on (also for a connection the
            // replay returns to the pool).
            let link = self.upstream?.link
            self.held = nil
            self.heldHead = nil
            if case .failed = outcome {
                self.responseHeadSent = false
                self.runtime.logger.error("session binding not persisted", metadata: ["request_id": "\(self.requestID.string)"])
                self.respondLocally(.error(.serviceUnavailable, "store_unavailable", "the session store is unavailable"), close: true)
                return
            }
            self.sendResponseHead(head)
            if head.status == 101 { self.switchProtocols() }
            for part in parts {
                switch part {
                case .body(let data): self.relayBody(data)
                case .end: self.upstreamResponseEnd()
                }
            }
            self.client?.flush()
            link?.resumeReading()
        }
    }

    /// A refused session reuse: logged with both subjects and a hash of the id, never the id.
    func sessionRefused(_ key: SessionKey, bound: BoundPrincipal?, caller: BoundPrincipal, reason: String) {
        runtime.metrics.sessionRejections.increment([key.tenant.rawValue, reason])
        self.reason = "session_\(reason)"
        runtime.logger.warning(
            "session reuse refused",
            metadata: [
                "tenant": "\(key.tenant)", "header": "\(key.header)", "session": "\(SessionTable.logLabel(key.id))",
                "bound_sub": "\(bound?.subject ?? "-")", "caller_sub": "\(caller.subject)", "reason": "\(reason)",
                "request_id": "\(requestID.string)",
            ])
    }
}
