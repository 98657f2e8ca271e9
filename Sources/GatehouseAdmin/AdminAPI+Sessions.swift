import GatehouseCore
import GatehouseHTTP
import GatehouseSessions

/// `…/tenants/{t}/sessions`: list and revoke session bindings and OAuth flows (docs/sessions-and-oauth.md "Managing sessions", docs/admin-api.md "Sessions").
extension AdminAPI {
    /// Live bindings, ordered by (header, id); `subject`, `issuer` and `header` filter,
    /// `cursor` continues after the last item of the previous page.
    func listSessions(_ call: Call) async -> HTTPServerResponse {
        guard let tenant = call.tenant else { return notFound("tenant") }
        let query = call.request.queryParameters
        let limit: Int
        switch pageLimit(call.request) {
        case .failure(let r): return r
        case .success(let n): limit = n
        }
        var after: (header: String, id: String)?
        if let cursor = query["cursor"], !cursor.isEmpty {
            guard let decoded = Base64URL.decode(cursor), let text = String(validating: decoded, as: UTF8.self),
                let newline = text.firstIndex(of: "\n")
            else { return invalid([("cursor", "must be a cursor from a previous page")]) }
            after = (String(text[..<newline]), String(text[text.index(after: newline)...]))
        }
        if deps.sessions.shared {
            // Other replicas' bindings this one has not seen yet are in the store.
            do {
                try await deps.sessions.refresh(tenant: tenant, subject: query["subject"])
            } catch {
                return storeUnavailable()
            }
        }
        var rows = deps.sessions.bindings(tenant: tenant, subject: query["subject"], header: query["header"], now: deps.clock())
        if let issuer = query["issuer"] { rows = rows.filter { $0.principal.issuer == issuer } }
        rows.sort { ($0.key.header, $0.key.id) < ($1.key.header, $1.key.id) }
        if let after { rows = rows.filter { ($0.key.header, $0.key.id) > after } }
        let shown = rows.prefix(limit)
        let next = rows.count > limit ? shown.last.map { Base64URL.encode(Array("\($0.key.header)\n\($0.key.id)".utf8)) } : nil
        return page(shown.map(bindingJSON), next: next)
    }

    /// Revokes one session: its binding (refused on the data plane from now on) and any OAuth
    /// flow of the tenant with that session id.
    func revokeSession(_ call: Call) async -> HTTPServerResponse {
        guard let tenant = call.tenant, let header = call.parameters["header"], let id = call.parameters["id"] else {
            return notFound("session")
        }
        guard HeaderName.isValid(header), SessionBinding.isValidID(id) else { return notFound("session") }
        let key = SessionKey(tenant: tenant, header: header, id: id)
        let target = "session/\(key.header)/\(SessionTable.logLabel(id))"
        do {
            let binding = try await deps.sessions.revoke(key)
            let flows = try await deps.sessionStore.deleteFlows(tenant: tenant, sessionID: id)
            guard binding || flows > 0 else { return notFound("session") }
            await recordRevocation(call, target: target, detail: "bindings: \(binding ? 1 : 0), flows: \(flows)")
            return HTTPServerResponse(status: .noContent)
        } catch {
            logger.error("session revocation not stored", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
            await auditRefusal(call, tenant: tenant, action: "session.revoke", target: target, outcome: "error", detail: "store unavailable")
            return storeUnavailable()
        }
    }

    /// `DELETE …/sessions?subject=…[&issuer=…]`: every binding and flow of one user.
    func revokeSubject(_ call: Call) async -> HTTPServerResponse {
        guard let tenant = call.tenant else { return notFound("tenant") }
        let query = call.request.queryParameters
        guard let subject = query["subject"], !subject.isEmpty else {
            return invalid([("subject", "required: whose sessions to revoke (revoking every session at once is not offered)")])
        }
        // It lands in the audit log and the logs: bounded, and no control characters.
        // Counted in code points, as the OpenAPI document's maxLength counts them.
        guard subject.unicodeScalars.count <= 1024, !subject.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return invalid([("subject", "must be at most 1024 characters without control characters")])
        }
        let issuer = query["issuer"]
        let target = "subject/\(subject)"
        do {
            let bindings = try await deps.sessions.revoke(tenant: tenant, subject: subject, issuer: issuer)
            let flows = try await deps.sessionStore.deleteFlows(tenant: tenant, subject: subject, issuer: issuer)
            await recordRevocation(call, target: target, detail: "bindings: \(bindings), flows: \(flows)")
            return .json(.object(["revoked_sessions": .number(String(bindings)), "revoked_flows": .number(String(flows))]))
        } catch {
            logger.error("session revocation not stored", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
            await auditRefusal(call, tenant: tenant, action: "session.revoke", target: target, outcome: "error", detail: "store unavailable")
            return storeUnavailable()
        }
    }

    /// Revocations act in memory first (refusing is the safe side) and then in the store, so
    /// the audit entry is written after them rather than in the same transaction.
    private func recordRevocation(_ call: Call, target: String, detail: String) async {
        let entry = auditEntry(call, action: "session.revoke", target: target, detail: detail)
        do {
            try await deps.store.appendAudit(entry)
        } catch {
            logger.error("audit entry not stored", metadata: ["action": "session.revoke", "error": "\(error)"])
        }
        logChange(call, action: "session.revoke", target: target)
    }

    private func bindingJSON(_ b: SessionBinding) -> JSONValue {
        .object([
            "header": .string(b.key.header),
            "id": .string(b.key.id),
            "subject": .string(b.principal.subject),
            "issuer": .string(b.principal.issuer),
            "client_id": b.principal.clientID.map(JSONValue.string) ?? .null,
            "upstream": b.upstream.map(JSONValue.string) ?? .null,
            "issued_by": .string(b.issuedBy.rawValue),
            "created_at": .string(LogTime.iso8601(b.createdAt)),
            "last_seen_at": .string(LogTime.iso8601(b.lastSeenAt)),
            "expires_at": .string(LogTime.iso8601(b.expiresAt)),
        ])
    }
}
