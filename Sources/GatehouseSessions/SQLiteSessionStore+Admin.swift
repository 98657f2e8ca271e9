import GatehouseCore

/// `AdminStore` on the same SQLite file as the bindings.
extension SQLiteSessionStore: AdminStore {
    public func registeredIdPs() async throws -> [RegisteredIdPRecord] {
        try await perform { [self] db in
            try db.query("SELECT tenant, name, document, created_at, updated_at FROM registered_idps ORDER BY tenant, name") { row in
                do {
                    guard let tenant = TenantID(try row.text(0)) else {
                        throw SQLiteColumnError(column: "tenant", found: "an invalid tenant id", expected: "a tenant id")
                    }
                    return RegisteredIdPRecord(
                        tenant: tenant, name: try row.text(1), document: try row.text(2), createdAt: try row.double(3),
                        updatedAt: try row.double(4))
                } catch {
                    logSkippedRow(table: "registered_idps", error)
                    return nil
                }
            }.compactMap { $0 }
        }
    }

    public func putRegisteredIdP(_ record: RegisteredIdPRecord, audit: AuditEntry) async throws {
        try await perform { db in
            try db.transaction {
                try db.execute(
                    """
                    INSERT INTO registered_idps (tenant, name, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (tenant, name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at
                    """,
                    [
                        .text(record.tenant.rawValue), .text(record.name), .text(record.document), .double(record.createdAt),
                        .double(record.updatedAt),
                    ])
                try Self.insertAudit(audit, db)
            }
        }
    }

    public func deleteRegisteredIdP(tenant: TenantID, name: String, audit: AuditEntry) async throws -> Bool {
        try await perform { db in
            try db.transaction {
                let removed = try db.execute(
                    "DELETE FROM registered_idps WHERE tenant = ? AND name = ?", [.text(tenant.rawValue), .text(name)])
                guard removed > 0 else { return false }
                try Self.insertAudit(audit, db)
                return true
            }
        }
    }

    public func insertAdminKey(_ key: AdminKeyRecord, audit: AuditEntry) async throws {
        try await perform { db in
            try db.transaction {
                try db.execute(
                    "INSERT INTO admin_keys (id, tenant, name, secret_hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        .text(key.id), .text(key.tenant.rawValue), .optionalText(key.name), .text(key.secretHash),
                        .double(key.createdAt), .optionalDouble(key.revokedAt),
                    ])
                try Self.insertAudit(audit, db)
            }
        }
    }

    public func adminKey(id: String) async throws -> AdminKeyRecord? {
        try await perform { db in
            try db.query("SELECT \(Self.keyColumns) FROM admin_keys WHERE id = ?", [.text(id)], row: Self.decodeKey).first
        }
    }

    public func adminKeys(tenant: TenantID) async throws -> [AdminKeyRecord] {
        try await perform { db in
            try db.query(
                "SELECT \(Self.keyColumns) FROM admin_keys WHERE tenant = ? ORDER BY created_at, id", [.text(tenant.rawValue)],
                row: Self.decodeKey)
        }
    }

    public func revokeAdminKey(tenant: TenantID, id: String, now: Double, audit: AuditEntry) async throws -> Bool {
        try await perform { db in
            try db.transaction {
                let changed = try db.execute(
                    "UPDATE admin_keys SET revoked_at = ? WHERE id = ? AND tenant = ? AND revoked_at IS NULL",
                    [.double(now), .text(id), .text(tenant.rawValue)])
                guard changed > 0 else { return false }
                try Self.insertAudit(audit, db)
                return true
            }
        }
    }

    public func appendAudit(_ entry: AuditEntry) async throws {
        try await perform { db in try Self.insertAudit(entry, db) }
    }

    public func auditEntries(tenant: TenantID?, before: Int64?, limit: Int) async throws -> [AuditEntry] {
        var conditions: [String] = []
        var parameters: [SQLiteValue] = []
        if let tenant {
            conditions.append("tenant = ?")
            parameters.append(.text(tenant.rawValue))
        }
        if let before {
            conditions.append("sequence < ?")
            parameters.append(.int(before))
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        parameters.append(.int(Int64(max(1, limit))))
        let sql = "SELECT sequence, tenant, time, actor, action, target, outcome, detail FROM audit_log \(whereClause) ORDER BY sequence DESC LIMIT ?"
        let bound = parameters
        return try await perform { db in
            try db.query(sql, bound) { row in
                AuditEntry(
                    sequence: try row.int64(0), tenant: try row.optionalText(1).flatMap(TenantID.init), time: try row.double(2),
                    actor: try row.text(3), action: try row.text(4), target: try row.text(5), outcome: try row.text(6),
                    detail: try row.optionalText(7))
            }
        }
    }

    private static let keyColumns = "id, tenant, name, secret_hash, created_at, revoked_at"

    private static func decodeKey(_ row: SQLiteRow) throws -> AdminKeyRecord {
        guard let tenant = TenantID(try row.text(1)) else {
            throw SQLiteColumnError(column: "tenant", found: "an invalid tenant id", expected: "a tenant id")
        }
        return AdminKeyRecord(
            id: try row.text(0), tenant: tenant, name: try row.optionalText(2), secretHash: try row.text(3),
            createdAt: try row.double(4), revokedAt: try row.optionalDouble(5))
    }

    private static func insertAudit(_ entry: AuditEntry, _ db: SQLiteDatabase) throws {
        try db.execute(
            "INSERT INTO audit_log (tenant, time, actor, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                .optionalText(entry.tenant?.rawValue), .double(entry.time), .text(entry.actor), .text(entry.action),
                .text(entry.target), .text(entry.outcome), .optionalText(entry.detail),
            ])
    }
}
