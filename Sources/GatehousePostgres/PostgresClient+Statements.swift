import Logging
import PostgresNIO

/// PostgresNIO's own query logging is off: at debug level it would print bound values.
let quietLogger = Logger(label: "gatehouse-postgres-quiet", factory: { _ in SwiftLogNoOpLogHandler() })

extension PostgresClient {
    /// Runs `body` between BEGIN and COMMIT on one pooled connection; any error rolls back and
    /// is rethrown as it was (PostgresNIO's `withTransaction` would wrap it, hiding the
    /// constraint violations the store turns into `SessionStoreError`s).
    func transaction<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { connection in try await connection.transaction(body) }
    }

    /// Every row of `query`.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await self.query(query, logger: quietLogger).collect()
    }

    /// How many rows a statement with `RETURNING 1` touched.
    func count(_ query: PostgresQuery) async throws -> Int {
        try await rows(query).count
    }
}

extension PostgresConnection {
    /// `PostgresClient.transaction` on this connection.
    func transaction<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await query("BEGIN", logger: quietLogger)
        do {
            let result = try await body(self)
            try await query("COMMIT", logger: quietLogger)
            return result
        } catch {
            // After a failed COMMIT the server has ended the transaction already: this ROLLBACK
            // then only draws a warning. If it fails the connection is broken, and the pool
            // drops broken connections.
            _ = try? await query("ROLLBACK", logger: quietLogger)
            throw error
        }
    }

    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await self.query(query, logger: quietLogger).collect()
    }

    func count(_ query: PostgresQuery) async throws -> Int {
        try await rows(query).count
    }

    func execute(_ query: PostgresQuery) async throws {
        _ = try await self.query(query, logger: quietLogger).collect()
    }
}

extension PSQLError {
    /// The SQLSTATE and constraint of a server error, if this is one.
    var violation: (sqlState: String, constraint: String?)? {
        guard let info = serverInfo, let state = info[.sqlState] else { return nil }
        return (state, info[.constraintName])
    }
}
