import CSQLite
import GatehouseCore

extension SQLiteSessionStore {
    private static let flowColumns = """
        tenant, session_id, issuer, subject, client_id, authorization_url, start_handle, cookie_hash, sealed_token, \
        created_at, expires_at, completed_at
        """

    /// Replaces an existing flow of the same tenant and session id only if that one is finished
    /// (completed, or expired as of `flow.createdAt`, the caller's "now"); a live one makes this
    /// throw `SessionStoreError.flowExists`. Delete and insert share one transaction, so two
    /// racing inserts cannot both win.
    public func insertFlow(_ flow: OAuthFlowRecord) async throws {
        try await perform { db in
            try db.transaction {
                try db.execute(
                    """
                    DELETE FROM oauth_flows
                    WHERE tenant = ? AND session_id = ? AND (completed_at IS NOT NULL OR expires_at <= ?)
                    """,
                    [.text(flow.tenant.rawValue), .text(flow.sessionID), .double(flow.createdAt)])
                do {
                    try db.execute(
                        "INSERT INTO oauth_flows (\(Self.flowColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            .text(flow.tenant.rawValue), .text(flow.sessionID), .text(flow.principal.issuer),
                            .text(flow.principal.subject), .optionalText(flow.principal.clientID), .text(flow.authorizationURL),
                            .text(flow.startHandle), .optionalText(flow.cookieHash), .blob(flow.sealedUserToken),
                            .double(flow.createdAt), .double(flow.expiresAt), .optionalDouble(flow.completedAt),
                        ])
                } catch let error as SQLiteError where error.code == constraintPrimaryKey {
                    throw SessionStoreError.flowExists
                } catch let error as SQLiteError where error.code == constraintUnique {
                    throw SessionStoreError.startHandleInUse
                }
            }
        }
    }

    public func flow(tenant: TenantID, sessionID: String) async throws -> OAuthFlowRecord? {
        try await perform { [self] db in
            try queryFlows(db, "WHERE tenant = ? AND session_id = ?", [.text(tenant.rawValue), .text(sessionID)]).first
        }
    }

    public func flow(startHandle: String) async throws -> OAuthFlowRecord? {
        try await perform { [self] db in
            try queryFlows(db, "WHERE start_handle = ?", [.text(startHandle)]).first
        }
    }

    public func flows(sessionID: String) async throws -> [OAuthFlowRecord] {
        try await perform { [self] db in
            try queryFlows(db, "WHERE session_id = ? ORDER BY tenant", [.text(sessionID)])
        }
    }

    public func deleteFlows(tenant: TenantID, sessionID: String) async throws -> Int {
        try await perform { db in
            try db.execute("DELETE FROM oauth_flows WHERE tenant = ? AND session_id = ?", [.text(tenant.rawValue), .text(sessionID)])
        }
    }

    public func deleteFlows(tenant: TenantID, subject: String, issuer: String?) async throws -> Int {
        try await perform { db in
            if let issuer {
                return try db.execute(
                    "DELETE FROM oauth_flows WHERE tenant = ? AND subject = ? AND issuer = ?",
                    [.text(tenant.rawValue), .text(subject), .text(issuer)])
            }
            return try db.execute("DELETE FROM oauth_flows WHERE tenant = ? AND subject = ?", [.text(tenant.rawValue), .text(subject)])
        }
    }

    /// Throws `SessionStoreError.flowNotFound` if there is no such flow (swept, or replaced).
    public func setFlowCookie(tenant: TenantID, sessionID: String, startHandle: String, cookieHash: String) async throws {
        let changed = try await perform { db in
            try db.execute(
                "UPDATE oauth_flows SET cookie_hash = ? WHERE tenant = ? AND session_id = ? AND start_handle = ?",
                [.text(cookieHash), .text(tenant.rawValue), .text(sessionID), .text(startHandle)])
        }
        if changed == 0 { throw SessionStoreError.flowNotFound }
    }

    /// One conditional UPDATE: only a call that finds the flow unfinished changes the row, so
    /// exactly one caller (in this process or another one on the same file) gets true. The
    /// sealed token is erased in the same statement.
    public func completeFlow(tenant: TenantID, sessionID: String, startHandle: String, now: Double) async throws -> Bool {
        try await perform { [self] db in
            let changed = try db.execute(
                """
                UPDATE oauth_flows SET completed_at = ?, sealed_token = NULL
                WHERE tenant = ? AND session_id = ? AND start_handle = ? AND completed_at IS NULL AND expires_at > ?
                """,
                [.double(now), .text(tenant.rawValue), .text(sessionID), .text(startHandle), .double(now)])
            if changed == 1 { db.checkpointTruncatingWAL(busyTimeoutMilliseconds: options.busyTimeoutMilliseconds) }
            return changed == 1
        }
    }

    /// Deleting the rows deletes their sealed tokens; completed flows stay until they expire so
    /// that a second callback still finds them completed.
    public func deleteExpiredFlows(now: Double) async throws -> Int {
        try await perform { [self] db in
            let deleted = try db.execute("DELETE FROM oauth_flows WHERE expires_at <= ?", [.double(now)])
            if deleted > 0 { db.checkpointTruncatingWAL(busyTimeoutMilliseconds: options.busyTimeoutMilliseconds) }
            return deleted
        }
    }

    private func queryFlows(_ db: SQLiteDatabase, _ condition: String, _ parameters: [SQLiteValue]) throws -> [OAuthFlowRecord] {
        try db.query("SELECT \(Self.flowColumns) FROM oauth_flows \(condition)", parameters) { row in
            do {
                return try Self.decodeFlow(row)
            } catch {
                logSkippedRow(table: "oauth_flows", error)
                return nil
            }
        }.compactMap { $0 }
    }

    static func decodeFlow(_ row: SQLiteRow) throws -> OAuthFlowRecord {
        guard let tenant = TenantID(try row.text(0)) else {
            throw SQLiteColumnError(column: "tenant", found: "an invalid tenant id", expected: "a tenant id")
        }
        return OAuthFlowRecord(
            tenant: tenant, sessionID: try row.text(1),
            principal: BoundPrincipal(issuer: try row.text(2), subject: try row.text(3), clientID: try row.optionalText(4)),
            authorizationURL: try row.text(5), startHandle: try row.text(6), cookieHash: try row.optionalText(7),
            // NULL once the flow completed: the token is gone.
            sealedUserToken: try row.optionalBlob(8) ?? [], createdAt: try row.double(9), expiresAt: try row.double(10),
            completedAt: try row.optionalDouble(11))
    }
}

/// Extended result codes of the two constraints an insert can break.
private let constraintPrimaryKey: Int32 = SQLITE_CONSTRAINT | (6 << 8)
private let constraintUnique: Int32 = SQLITE_CONSTRAINT | (8 << 8)
