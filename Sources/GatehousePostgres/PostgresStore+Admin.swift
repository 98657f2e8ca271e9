import GatehouseCore
import GatehouseSessions
import PostgresNIO

/// `AdminStore` in the same database as the bindings: each mutation and its audit entry commit
/// together or not at all.
extension PostgresStore: AdminStore {
    public func registeredIdPs() async throws -> [RegisteredIdPRecord] {
        let rows = try await perform { client in
            try await client.rows(
                "SELECT tenant, name, document, created_at, updated_at FROM registered_idps ORDER BY tenant COLLATE \"C\", name COLLATE \"C\"")
        }
        return rows.compactMap { row in
            do {
                let (tenantText, name, document, createdAt, updatedAt) = try row.decode((String, String, String, Double, Double).self)
                guard let tenant = TenantID(tenantText) else {
                    throw PostgresStoreError(.unreadableRow, "column tenant (not a tenant id)")
                }
                return RegisteredIdPRecord(tenant: tenant, name: name, document: document, createdAt: createdAt, updatedAt: updatedAt)
            } catch {
                logSkippedRow(table: "registered_idps", error)
                return nil
            }
        }
    }

    public func putRegisteredIdP(_ record: RegisteredIdPRecord, audit: AuditEntry) async throws {
        try await transaction { connection in
            try await connection.execute(
                """
                INSERT INTO registered_idps (tenant, name, document, created_at, updated_at)
                VALUES (\(record.tenant.rawValue), \(record.name), \(record.document), \(record.createdAt), \(record.updatedAt))
                ON CONFLICT (tenant, name) DO UPDATE SET document = EXCLUDED.document, updated_at = EXCLUDED.updated_at
                """)
            try await Self.insertAudit(audit, connection)
        }
    }

    public func deleteRegisteredIdP(tenant: TenantID, name: String, audit: AuditEntry) async throws -> Bool {
        try await transaction { connection in
            let removed = try await connection.count(
                "DELETE FROM registered_idps WHERE tenant = \(tenant.rawValue) AND name = \(name) RETURNING 1")
            guard removed > 0 else { return false }
            try await Self.insertAudit(audit, connection)
            return true
        }
    }

    public func insertAdminKey(_ key: AdminKeyRecord, audit: AuditEntry) async throws {
        try await transaction { connection in
            try await connection.execute(
                """
                INSERT INTO admin_keys (id, tenant, name, secret_hash, created_at, revoked_at)
                VALUES (\(key.id), \(key.tenant.rawValue), \(key.name), \(key.secretHash), \(key.createdAt), \(key.revokedAt))
                """)
            try await Self.insertAudit(audit, connection)
        }
    }

    public func adminKey(id: String) async throws -> AdminKeyRecord? {
        try await perform { client in
            try await client.rows("SELECT \(unescaped: Self.keyColumns) FROM admin_keys WHERE id = \(id)").map(Self.decodeKey)
        }.first
    }

    public func adminKeys(tenant: TenantID) async throws -> [AdminKeyRecord] {
        try await perform { client in
            try await client.rows(
                "SELECT \(unescaped: Self.keyColumns) FROM admin_keys WHERE tenant = \(tenant.rawValue) ORDER BY created_at, id COLLATE \"C\""
            ).map(Self.decodeKey)
        }
    }

    public func revokeAdminKey(tenant: TenantID, id: String, now: Double, audit: AuditEntry) async throws -> Bool {
        try await transaction { connection in
            let changed = try await connection.count(
                """
                UPDATE admin_keys SET revoked_at = \(now)
                WHERE id = \(id) AND tenant = \(tenant.rawValue) AND revoked_at IS NULL
                RETURNING 1
                """)
            guard changed > 0 else { return false }
            try await Self.insertAudit(audit, connection)
            return true
        }
    }

    public func appendAudit(_ entry: AuditEntry) async throws {
        try await perform { client in
            try await client.withConnection { connection in try await Self.insertAudit(entry, connection) }
        }
    }

    /// Newest first by sequence. Sequences grow in the order entries were inserted, not quite
    /// the order they committed: with several writers an entry may appear behind a page that
    /// was already read (the cursor is a position, not a snapshot — as with SQLite).
    public func auditEntries(tenant: TenantID?, before: Int64?, limit: Int) async throws -> [AuditEntry] {
        var conditions: [String] = []
        var bindings = PostgresBindings()
        if let tenant {
            bindings.append(tenant.rawValue)
            conditions.append("tenant = $\(bindings.count)")
        }
        if let before {
            bindings.append(before)
            conditions.append("sequence < $\(bindings.count)")
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        bindings.append(Int64(max(1, limit)))
        let sql = """
            SELECT sequence, tenant, time, actor, action, target, outcome, detail FROM audit_log \(whereClause)
            ORDER BY sequence DESC LIMIT $\(bindings.count)
            """
        let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
        return try await perform { client in
            try await client.rows(query).map { row in
                let (sequence, tenant, time, actor, action, target, outcome, detail) = try row.decode(
                    (Int64, String?, Double, String, String, String, String, String?).self)
                return AuditEntry(
                    sequence: sequence, tenant: tenant.flatMap(TenantID.init), time: time, actor: actor, action: action, target: target,
                    outcome: outcome, detail: detail)
            }
        }
    }

    static let keyColumns = "id, tenant, name, secret_hash, created_at, revoked_at"

    static func decodeKey(_ row: PostgresRow) throws -> AdminKeyRecord {
        let (id, tenantText, name, secretHash, createdAt, revokedAt) = try row.decode((String, String, String?, String, Double, Double?).self)
        guard let tenant = TenantID(tenantText) else {
            throw PostgresStoreError(.unreadableRow, "column tenant (not a tenant id)")
        }
        return AdminKeyRecord(id: id, tenant: tenant, name: name, secretHash: secretHash, createdAt: createdAt, revokedAt: revokedAt)
    }

    static func insertAudit(_ entry: AuditEntry, _ connection: PostgresConnection) async throws {
        try await connection.execute(
            """
            INSERT INTO audit_log (tenant, time, actor, action, target, outcome, detail)
            VALUES (\(entry.tenant?.rawValue), \(entry.time), \(entry.actor), \(entry.action), \(entry.target), \(entry.outcome), \(entry.detail))
            """)
    }
}
