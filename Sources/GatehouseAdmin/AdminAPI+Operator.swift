import GatehouseConfig
import GatehouseCore
import GatehouseHTTP
import GatehouseSessions

/// Operator endpoints: tenants, tenant admin keys, reload; and the audit log.
extension AdminAPI {
    func listTenants(_ call: Call) -> HTTPServerResponse {
        let snapshot = deps.control.snapshot
        let limit: Int
        switch pageLimit(call.request) {
        case .failure(let r): return r
        case .success(let n): limit = n
        }
        let after = call.request.queryParameters["cursor"]
        let ids = snapshot.tenantIDs.filter { after == nil || $0.rawValue > after! }
        let shown = ids.prefix(limit)
        let items: [JSONValue] = shown.compactMap { id in
            guard let tenant = snapshot.tenants[id] else { return nil }
            return .object([
                "id": .string(id.rawValue),
                "display_name": .string(tenant.displayName),
                "idps": .number(String(tenant.idps.count)),
                "registered_idps": .number(String(tenant.idps.filter { $0.source == .admin }.count)),
                "sessions": .number(String(deps.sessions.count(tenant: id))),
            ])
        }
        return page(items, next: ids.count > limit ? shown.last?.rawValue : nil)
    }

    func createKey(_ call: Call) async -> HTTPServerResponse {
        guard let tenant = call.tenant else { return notFound("tenant") }
        let body: JSONValue
        switch jsonObject(call.request, emptyAllowed: true) {
        case .failure(let r): return r
        case .success(let v): body = v
        }
        let extra = (body.objectValue ?? [:]).keys.filter { $0 != "name" }.sorted()
        if let key = extra.first { return invalid([(key, "unknown field (only name is accepted)")]) }
        var name: String?
        if let value = body["name"] {
            guard case .string(let text) = value, (1...64).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                return invalid([("name", "must be 1 to 64 printable ASCII characters")])
            }
            name = text
        }
        let (id, key) = AdminKey.generate()
        let now = deps.clock()
        let record = AdminKeyRecord(id: id, tenant: tenant, name: name, secretHash: AdminKey.hash(key), createdAt: now)
        do {
            try await deps.store.insertAdminKey(record, audit: auditEntry(call, action: "key.create", target: "key/\(id)", detail: name))
        } catch {
            logger.error("admin key not stored", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
            return storeUnavailable()
        }
        logChange(call, action: "key.create", target: "key/\(id)")
        var json = keyJSON(record)
        json["key"] = .string(key)
        return .json(status: .created, .object(json), headers: ["Location": "/admin/v1/tenants/\(tenant.rawValue)/keys/\(id)"])
    }

    func listKeys(_ call: Call) async -> HTTPServerResponse {
        guard let tenant = call.tenant else { return notFound("tenant") }
        do {
            let keys = try await deps.store.adminKeys(tenant: tenant)
            return page(keys.map { .object(keyJSON($0)) }, next: nil)
        } catch {
            return storeUnavailable()
        }
    }

    func revokeKey(_ call: Call) async -> HTTPServerResponse {
        guard let tenant = call.tenant, let id = call.parameters["id"] else { return notFound("key") }
        let audit = auditEntry(call, action: "key.revoke", target: "key/\(id)")
        do {
            guard try await deps.store.revokeAdminKey(tenant: tenant, id: id, now: deps.clock(), audit: audit) else {
                return notFound("key")
            }
        } catch {
            return storeUnavailable()
        }
        logChange(call, action: "key.revoke", target: "key/\(id)")
        return HTTPServerResponse(status: .noContent)
    }

    private func keyJSON(_ record: AdminKeyRecord) -> [String: JSONValue] {
        [
            "id": .string(record.id),
            "tenant": .string(record.tenant.rawValue),
            "name": record.name.map(JSONValue.string) ?? .null,
            "created_at": .string(LogTime.iso8601(record.createdAt)),
            "revoked_at": record.revokedAt.map { .string(LogTime.iso8601($0)) } ?? .null,
        ]
    }

    /// `GET /admin/v1/audit` (every entry, operator) and `GET …/tenants/{t}/audit`; newest first,
    /// `cursor` is the `sequence` to continue below.
    func listAudit(_ call: Call) async -> HTTPServerResponse {
        let limit: Int
        switch pageLimit(call.request) {
        case .failure(let r): return r
        case .success(let n): limit = n
        }
        var before: Int64?
        if let cursor = call.request.queryParameters["cursor"], !cursor.isEmpty {
            guard let n = Int64(cursor), n > 0 else { return invalid([("cursor", "must be a cursor from a previous page")]) }
            before = n
        }
        let entries: [AuditEntry]
        do {
            entries = try await deps.store.auditEntries(tenant: call.tenant, before: before, limit: limit + 1)
        } catch {
            return storeUnavailable()
        }
        let shown = entries.prefix(limit)
        let items: [JSONValue] = shown.map { e in
            .object([
                "sequence": .number(String(e.sequence)),
                "time": .string(LogTime.iso8601(e.time)),
                "tenant": e.tenant.map { .string($0.rawValue) } ?? .null,
                "actor": .string(e.actor),
                "action": .string(e.action),
                "target": .string(e.target),
                "outcome": .string(e.outcome),
                "detail": e.detail.map(JSONValue.string) ?? .null,
            ])
        }
        return page(items, next: entries.count > limit ? shown.last.map { String($0.sequence) } : nil)
    }

    /// Re-reads `tenants/`. A broken file keeps the configuration in force; the answer (422)
    /// lists the problems as `check` prints them.
    func reload(_ call: Call) async -> HTTPServerResponse {
        await gate.run { [self] in
            switch deps.control.reloadTenants() {
            case .success(let count):
                let entry = auditEntry(call, action: "reload", target: "tenants", detail: "\(count) tenants")
                do { try await deps.store.appendAudit(entry) } catch {
                    logger.error("audit entry not stored", metadata: ["action": "reload", "error": "\(error)"])
                }
                logChange(call, action: "reload", target: "tenants")
                return .json(.object(["status": .string("ok"), "tenants": .number(String(count))]))
            case .failure(let problems):
                await auditRefusal(call, tenant: nil, action: "reload", target: "tenants", outcome: "invalid",
                                   detail: "\(problems.count) problem(s); previous configuration kept")
                return .json(
                    status: .unprocessableEntity,
                    .object([
                        "error": .string("reload_failed"),
                        "error_description": .string("the tenants folder has problems; the previous configuration stays in force"),
                        "problems": .array(problems.map {
                            .object(["file": .string($0.file), "path": .string($0.path), "message": .string($0.message),
                                     "text": .string($0.description)])
                        }),
                    ]))
            }
        }
    }
}
