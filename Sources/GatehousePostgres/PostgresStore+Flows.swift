import GatehouseCore
import GatehouseSessions
import NIOCore
import PostgresNIO

extension PostgresStore {
    static let flowColumns = """
        tenant, session_id, issuer, subject, client_id, authorization_url, start_handle, cookie_hash, sealed_token, \
        created_at, expires_at, completed_at
        """

    /// Replaces an existing flow of the same tenant and session id only if that one is finished
    /// (completed, or expired as of `flow.createdAt`, the caller's "now"); a live one makes this
    /// throw `SessionStoreError.flowExists`. Delete and insert share one transaction: of two
    /// racing inserts (on any replicas) the second waits for the first's row lock or primary
    /// key entry and then fails, so both cannot win.
    public func insertFlow(_ flow: OAuthFlowRecord) async throws {
        let sealed = ByteBuffer(bytes: flow.sealedUserToken)
        try await transaction { connection in
            try await connection.execute(
                """
                DELETE FROM oauth_flows
                WHERE tenant = \(flow.tenant.rawValue) AND session_id = \(flow.sessionID)
                    AND (completed_at IS NOT NULL OR expires_at <= \(flow.createdAt))
                """)
            do {
                try await connection.execute(
                    """
                    INSERT INTO oauth_flows (\(unescaped: Self.flowColumns))
                    VALUES (\(flow.tenant.rawValue), \(flow.sessionID), \(flow.principal.issuer), \(flow.principal.subject),
                            \(flow.principal.clientID), \(flow.authorizationURL), \(flow.startHandle), \(flow.cookieHash), \(sealed),
                            \(flow.createdAt), \(flow.expiresAt), \(flow.completedAt))
                    """)
            } catch let error as PSQLError where error.violation?.sqlState == PostgresStoreError.uniqueViolation {
                throw error.violation?.constraint == "oauth_flows_start_handle_key"
                    ? SessionStoreError.startHandleInUse : SessionStoreError.flowExists
            }
        }
    }

    public func flow(tenant: TenantID, sessionID: String) async throws -> OAuthFlowRecord? {
        try await queryFlows("WHERE tenant = \(tenant.rawValue) AND session_id = \(sessionID)").first
    }

    public func flow(startHandle: String) async throws -> OAuthFlowRecord? {
        try await queryFlows("WHERE start_handle = \(startHandle)").first
    }

    public func flows(sessionID: String) async throws -> [OAuthFlowRecord] {
        try await queryFlows("WHERE session_id = \(sessionID) ORDER BY tenant COLLATE \"C\"")
    }

    public func deleteFlows(tenant: TenantID, sessionID: String) async throws -> Int {
        try await countDeleted("DELETE FROM oauth_flows WHERE tenant = \(tenant.rawValue) AND session_id = \(sessionID) RETURNING 1")
    }

    public func deleteFlows(tenant: TenantID, subject: String, issuer: String?) async throws -> Int {
        if let issuer {
            return try await countDeleted(
                "DELETE FROM oauth_flows WHERE tenant = \(tenant.rawValue) AND subject = \(subject) AND issuer = \(issuer) RETURNING 1")
        }
        return try await countDeleted("DELETE FROM oauth_flows WHERE tenant = \(tenant.rawValue) AND subject = \(subject) RETURNING 1")
    }

    /// Throws `SessionStoreError.flowNotFound` if there is no such flow (swept, or replaced).
    public func setFlowCookie(tenant: TenantID, sessionID: String, startHandle: String, cookieHash: String) async throws {
        let changed = try await perform { client in
            try await client.count(
                """
                UPDATE oauth_flows SET cookie_hash = \(cookieHash)
                WHERE tenant = \(tenant.rawValue) AND session_id = \(sessionID) AND start_handle = \(startHandle)
                RETURNING 1
                """)
        }
        if changed == 0 { throw SessionStoreError.flowNotFound }
    }

    /// One conditional UPDATE: a second caller (on this replica or another) waits for the first
    /// one's row lock, then re-reads the row, finds it completed and changes nothing — so
    /// exactly one caller gets true. The sealed token is erased in the same statement.
    public func completeFlow(tenant: TenantID, sessionID: String, startHandle: String, now: Double) async throws -> Bool {
        let changed = try await perform { client in
            try await client.count(
                """
                UPDATE oauth_flows SET completed_at = \(now), sealed_token = NULL
                WHERE tenant = \(tenant.rawValue) AND session_id = \(sessionID) AND start_handle = \(startHandle)
                    AND completed_at IS NULL AND expires_at > \(now)
                RETURNING 1
                """)
        }
        return changed == 1
    }

    /// Deleting the rows deletes their sealed tokens; completed flows stay until they expire so
    /// that a second callback still finds them completed.
    public func deleteExpiredFlows(now: Double) async throws -> Int {
        try await countDeleted("DELETE FROM oauth_flows WHERE expires_at <= \(now) RETURNING 1")
    }

    /// Runs a `DELETE … RETURNING 1` and counts its rows on the server.
    private func countDeleted(_ delete: PostgresQuery) async throws -> Int {
        var query = delete
        query.sql = "WITH gone AS (\(delete.sql)) SELECT count(*) FROM gone"
        let counting = query
        return try await perform { client in
            Int(try await client.rows(counting).first?.decode(Int64.self) ?? 0)
        }
    }

    private func queryFlows(_ condition: PostgresQuery) async throws -> [OAuthFlowRecord] {
        var query = condition
        query.sql = "SELECT \(Self.flowColumns) FROM oauth_flows \(condition.sql)"
        let selecting = query
        let rows = try await perform { client in try await client.rows(selecting) }
        return rows.compactMap { row in
            do {
                return try Self.decodeFlow(row)
            } catch {
                logSkippedRow(table: "oauth_flows", error)
                return nil
            }
        }
    }

    static func decodeFlow(_ row: PostgresRow) throws -> OAuthFlowRecord {
        let (tenantText, sessionID, issuer, subject, clientID, authorizationURL, startHandle, cookieHash, sealed, createdAt, expiresAt, completedAt) =
            try row.decode((String, String, String, String, String?, String, String, String?, ByteBuffer?, Double, Double, Double?).self)
        guard let tenant = TenantID(tenantText) else {
            throw PostgresStoreError(.unreadableRow, "column tenant (not a tenant id)")
        }
        return OAuthFlowRecord(
            tenant: tenant, sessionID: sessionID, principal: BoundPrincipal(issuer: issuer, subject: subject, clientID: clientID),
            authorizationURL: authorizationURL, startHandle: startHandle, cookieHash: cookieHash,
            // NULL once the flow completed: the token is gone.
            sealedUserToken: sealed.map { Array($0.readableBytesView) } ?? [], createdAt: createdAt, expiresAt: expiresAt,
            completedAt: completedAt)
    }
}
