import GatehouseCore
import GatehouseSessions
import PostgresNIO

extension PostgresStore: SessionStore {
    static let bindingColumns =
        "tenant, header, session_id, issuer, subject, client_id, upstream, issued_by, created_at, last_seen_at, expires_at"

    public func loadBindings(now: Double) async throws -> [SessionBinding] {
        let rows = try await perform { client in
            try await client.rows("SELECT \(unescaped: Self.bindingColumns) FROM session_bindings WHERE expires_at > \(now)")
        }
        return rows.compactMap { row in
            do {
                return try Self.decodeBinding(row)
            } catch {
                logSkippedRow(table: "session_bindings", error)
                return nil
            }
        }
    }

    public func upsertBinding(_ binding: SessionBinding) async throws {
        _ = try await write(binding, replacingRowsExpiredBy: .infinity)
    }

    /// One statement: the insert wins unless a live row exists, which the `WHERE` of the
    /// conflict clause leaves untouched (and locked until commit, so a concurrent claim waits
    /// and then sees it). Nothing written means a live row won; it is read back.
    public func claimBinding(_ binding: SessionBinding, now: Double) async throws -> SessionBinding {
        for _ in 0..<3 {
            if try await write(binding, replacingRowsExpiredBy: now) { return binding }
            if let live = try await self.binding(binding.key, now: now) { return live }
            // The live row was deleted between the two statements: claim again.
        }
        throw PostgresStoreError(.server, "session binding claim kept racing with deletes of the same id")
    }

    /// Inserts the row for `binding.key`, or replaces one whose `expires_at <= cutoff`
    /// (`.infinity`: any). Returns whether the row was written.
    private func write(_ binding: SessionBinding, replacingRowsExpiredBy cutoff: Double) async throws -> Bool {
        try await perform { client in
            try await client.count(
                """
                INSERT INTO session_bindings (\(unescaped: Self.bindingColumns))
                VALUES (\(binding.key.tenant.rawValue), \(binding.key.header), \(binding.key.id), \(binding.principal.issuer),
                        \(binding.principal.subject), \(binding.principal.clientID), \(binding.upstream), \(binding.issuedBy.rawValue),
                        \(binding.createdAt), \(binding.lastSeenAt), \(binding.expiresAt))
                ON CONFLICT (tenant, header, session_id) DO UPDATE SET
                    issuer = EXCLUDED.issuer, subject = EXCLUDED.subject, client_id = EXCLUDED.client_id,
                    upstream = EXCLUDED.upstream, issued_by = EXCLUDED.issued_by, created_at = EXCLUDED.created_at,
                    last_seen_at = EXCLUDED.last_seen_at, expires_at = EXCLUDED.expires_at
                WHERE session_bindings.expires_at <= \(cutoff)
                RETURNING 1
                """) == 1
        }
    }

    public func binding(_ key: SessionKey, now: Double) async throws -> SessionBinding? {
        let rows = try await perform { client in
            try await client.rows(
                """
                SELECT \(unescaped: Self.bindingColumns) FROM session_bindings
                WHERE tenant = \(key.tenant.rawValue) AND header = \(key.header) AND session_id = \(key.id) AND expires_at > \(now)
                """)
        }
        return try rows.first.map(Self.decodeBinding)
    }

    public func bindings(tenant: TenantID, subject: String?, now: Double) async throws -> [SessionBinding] {
        let rows = try await perform { client in
            if let subject {
                return try await client.rows(
                    """
                    SELECT \(unescaped: Self.bindingColumns) FROM session_bindings
                    WHERE tenant = \(tenant.rawValue) AND subject = \(subject) AND expires_at > \(now)
                    """)
            }
            return try await client.rows(
                "SELECT \(unescaped: Self.bindingColumns) FROM session_bindings WHERE tenant = \(tenant.rawValue) AND expires_at > \(now)")
        }
        return try rows.map(Self.decodeBinding)
    }

    public func deleteBinding(_ key: SessionKey) async throws {
        try await perform { client in
            try await client.query(
                "DELETE FROM session_bindings WHERE tenant = \(key.tenant.rawValue) AND header = \(key.header) AND session_id = \(key.id)",
                logger: quietLogger)
        }
    }

    /// One statement for the whole batch (one round trip, one commit). Times only move forward
    /// (`GREATEST`), so a late batch — from this replica or another — can never shorten a
    /// session another batch extended; a key given twice counts with its latest times.
    public func touchBindings(_ updates: [SessionTouch]) async throws {
        guard !updates.isEmpty else { return }
        let tenants = updates.map(\.key.tenant.rawValue)
        let headers = updates.map(\.key.header)
        let ids = updates.map(\.key.id)
        let lastSeen = updates.map(\.lastSeenAt)
        let expires = updates.map(\.expiresAt)
        try await perform { client in
            try await Self.retryingDeadlocks {
                try await client.query(
                    """
                    UPDATE session_bindings AS b
                    SET last_seen_at = GREATEST(b.last_seen_at, u.last_seen_at), expires_at = GREATEST(b.expires_at, u.expires_at)
                    FROM (
                        SELECT tenant, header, session_id, max(last_seen_at) AS last_seen_at, max(expires_at) AS expires_at
                        FROM unnest(\(tenants)::text[], \(headers)::text[], \(ids)::text[], \(lastSeen)::float8[], \(expires)::float8[])
                            AS t(tenant, header, session_id, last_seen_at, expires_at)
                        GROUP BY tenant, header, session_id
                    ) AS u
                    WHERE b.tenant = u.tenant AND b.header = u.header AND b.session_id = u.session_id
                    """, logger: quietLogger)
            }
        }
    }

    /// A binding is live while `expires_at > now`, the same test `loadBindings` uses.
    public func deleteExpiredBindings(now: Double) async throws -> Int {
        try await perform { client in
            let rows = try await client.rows(
                "WITH gone AS (DELETE FROM session_bindings WHERE expires_at <= \(now) RETURNING 1) SELECT count(*) FROM gone")
            return Int(try rows.first?.decode(Int64.self) ?? 0)
        }
    }

    /// Two replicas' batches may lock overlapping rows in different orders; PostgreSQL then
    /// aborts one of them (SQLSTATE 40P01). The statement is idempotent, so it is tried again.
    static func retryingDeadlocks<T>(attempts: Int = 3, _ body: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await body()
            } catch let error as PSQLError where error.violation?.sqlState == "40P01" && attempt < attempts {
                attempt += 1
            }
        }
    }

    static func decodeBinding(_ row: PostgresRow) throws -> SessionBinding {
        let (tenantText, header, id, issuer, subject, clientID, upstream, issuedByText, createdAt, lastSeenAt, expiresAt) = try row.decode(
            (String, String, String, String, String, String?, String?, String, Double, Double, Double).self)
        guard let tenant = TenantID(tenantText) else {
            throw PostgresStoreError(.unreadableRow, "column tenant (not a tenant id)")
        }
        guard let issuedBy = SessionRule.IssuedBy(rawValue: issuedByText) else {
            throw PostgresStoreError(.unreadableRow, "column issued_by (neither server nor client)")
        }
        return SessionBinding(
            key: SessionKey(tenant: tenant, header: header, id: id),
            principal: BoundPrincipal(issuer: issuer, subject: subject, clientID: clientID),
            upstream: upstream, issuedBy: issuedBy, createdAt: createdAt, lastSeenAt: lastSeenAt, expiresAt: expiresAt)
    }
}
