import Foundation
import GatehouseCore
import Logging

/// Errors of a `SessionStore` that are about the data, not the storage engine.
public enum SessionStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A flow that is neither completed nor expired already holds this tenant and session id;
    /// replacing it would hand the flow to whoever registered it second.
    case flowExists
    /// Another flow already uses this start handle (handles are random: this is a bug).
    case startHandleInUse
    /// No flow has this tenant and session id.
    case flowNotFound
    /// The store was closed.
    case closed
    /// The database file was written by a newer Gatehouse (its schema version is higher).
    case unsupportedSchemaVersion(Int64)

    public var description: String {
        switch self {
        case .flowExists: "an unfinished OAuth flow with this session id already exists"
        case .startHandleInUse: "the OAuth flow start handle is already in use"
        case .flowNotFound: "no OAuth flow with this session id"
        case .closed: "the session store is closed"
        case .unsupportedSchemaVersion(let version): "the session store schema version \(version) is newer than this Gatehouse supports"
        }
    }
}

/// The embedded `SessionStore` (`store: sqlite:PATH`, docs/store-and-replicas.md "SQLite"): one SQLite file in WAL mode.
///
/// Durability: every mutating call returns after its transaction committed. With the default
/// `synchronous: .normal` a committed change survives `kill -9` of the process; power loss or an
/// OS crash may lose the last few transactions. Pass `.full` to fsync every commit.
///
/// Threading: all SQLite work runs on one dedicated thread owning one connection (see
/// `SQLiteWorker`); the async methods suspend the caller until it is done and never block
/// Swift's cooperative pool. Calls therefore run one at a time, in the order they were made.
public final class SQLiteSessionStore: SessionStore {
    public let path: String
    let worker: SQLiteWorker
    let logger: Logger
    let options: SQLiteDatabase.Options

    /// Opens or creates the database at `path` (parent directories and a 0600 file included)
    /// and brings its schema up to date. Blocks the calling thread until that is done.
    public init(
        path: String, logger: Logger, synchronous: SQLiteSynchronous = .normal, busyTimeoutMilliseconds: Int32 = 5000
    ) throws {
        let options = SQLiteDatabase.Options(synchronous: synchronous, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        self.path = path
        self.logger = logger
        self.options = options
        worker = try SQLiteWorker(name: "gatehouse-sqlite") {
            let db = try SQLiteDatabase(path: path, options: options)
            let previous = try SessionSchema.migrate(db)
            if previous != SessionSchema.latestVersion {
                logger.info(
                    "session store schema migrated",
                    metadata: ["from": "\(previous)", "to": "\(SessionSchema.latestVersion)"])
            }
            return db
        }
        logger.info("session store opened", metadata: ["path": "\(path)", "synchronous": "\(synchronous.rawValue)"])
    }

    deinit { worker.stop() }

    /// Waits for queued calls, then closes the database. Later calls throw
    /// `SessionStoreError.closed`.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            worker.stop { continuation.resume() }
        }
    }

    /// Runs `body` on the store thread and hands its result back to the caller.
    @discardableResult
    func perform<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let accepted = worker.submit { db in
                guard let db else { return continuation.resume(throwing: SessionStoreError.closed) }
                continuation.resume(with: Result { try body(db) })
            }
            if !accepted { continuation.resume(throwing: SessionStoreError.closed) }
        }
    }

    public func ping() async -> Bool {
        do {
            return try await perform { db in try db.query("SELECT 1") { try $0.int64(0) } } == [1]
        } catch {
            return false
        }
    }

    /// Logs a row that could not be decoded. Says which table and column, never the row's
    /// values (they include session ids).
    func logSkippedRow(table: String, _ error: Error) {
        logger.warning("skipped unreadable row in session store", metadata: ["table": "\(table)", "reason": "\(error)"])
    }

    // MARK: - Bindings

    private static let bindingColumns =
        "tenant, header, session_id, issuer, subject, client_id, upstream, issued_by, created_at, last_seen_at, expires_at"

    public func loadBindings(now: Double) async throws -> [SessionBinding] {
        try await perform { [self] db in
            try db.query("SELECT \(Self.bindingColumns) FROM session_bindings WHERE expires_at > ?", [.double(now)]) { row in
                do {
                    return try Self.decodeBinding(row)
                } catch {
                    logSkippedRow(table: "session_bindings", error)
                    return nil
                }
            }.compactMap { $0 }
        }
    }

    public func upsertBinding(_ binding: SessionBinding) async throws {
        try await perform { db in try Self.write(binding, db) }
    }

    public func claimBinding(_ binding: SessionBinding, now: Double) async throws -> SessionBinding {
        try await perform { db in
            try db.transaction {
                if let live = try Self.liveBinding(db, binding.key, now: now) { return live }
                try Self.write(binding, db)
                return binding
            }
        }
    }

    /// Inserts or replaces the row for `binding.key`.
    private static func write(_ binding: SessionBinding, _ db: SQLiteDatabase) throws {
        try db.execute(
            """
            INSERT INTO session_bindings (\(bindingColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (tenant, header, session_id) DO UPDATE SET
                issuer = excluded.issuer, subject = excluded.subject, client_id = excluded.client_id,
                upstream = excluded.upstream, issued_by = excluded.issued_by, created_at = excluded.created_at,
                last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at
            """,
            [
                .text(binding.key.tenant.rawValue), .text(binding.key.header), .text(binding.key.id),
                .text(binding.principal.issuer), .text(binding.principal.subject), .optionalText(binding.principal.clientID),
                .optionalText(binding.upstream), .text(binding.issuedBy.rawValue), .double(binding.createdAt),
                .double(binding.lastSeenAt), .double(binding.expiresAt),
            ])
    }

    public func binding(_ key: SessionKey, now: Double) async throws -> SessionBinding? {
        try await perform { db in try Self.liveBinding(db, key, now: now) }
    }

    public func bindings(tenant: TenantID, subject: String?, now: Double) async throws -> [SessionBinding] {
        try await perform { db in
            var sql = "SELECT \(Self.bindingColumns) FROM session_bindings WHERE tenant = ? AND expires_at > ?"
            var args: [SQLiteValue] = [.text(tenant.rawValue), .double(now)]
            if let subject {
                sql += " AND subject = ?"
                args.append(.text(subject))
            }
            return try db.query(sql, args) { row in try Self.decodeBinding(row) }
        }
    }

    private static func liveBinding(_ db: SQLiteDatabase, _ key: SessionKey, now: Double) throws -> SessionBinding? {
        try db.query(
            "SELECT \(bindingColumns) FROM session_bindings WHERE tenant = ? AND header = ? AND session_id = ? AND expires_at > ?",
            [.text(key.tenant.rawValue), .text(key.header), .text(key.id), .double(now)]
        ) { row in try decodeBinding(row) }.first
    }

    public func deleteBinding(_ key: SessionKey) async throws {
        try await perform { db in
            try db.execute(
                "DELETE FROM session_bindings WHERE tenant = ? AND header = ? AND session_id = ?",
                [.text(key.tenant.rawValue), .text(key.header), .text(key.id)])
        }
    }

    /// One transaction for the whole batch (one commit, not one per row). Times only move
    /// forward (`max`), so a late batch can never shorten a session another batch extended.
    public func touchBindings(_ updates: [SessionTouch]) async throws {
        guard !updates.isEmpty else { return }
        try await perform { db in
            try db.transaction {
                for update in updates {
                    try db.execute(
                        """
                        UPDATE session_bindings SET last_seen_at = max(last_seen_at, ?), expires_at = max(expires_at, ?)
                        WHERE tenant = ? AND header = ? AND session_id = ?
                        """,
                        [
                            .double(update.lastSeenAt), .double(update.expiresAt),
                            .text(update.key.tenant.rawValue), .text(update.key.header), .text(update.key.id),
                        ])
                }
            }
        }
    }

    /// A binding is live while `expires_at > now`, the same test `loadBindings` uses.
    public func deleteExpiredBindings(now: Double) async throws -> Int {
        try await perform { db in
            try db.execute("DELETE FROM session_bindings WHERE expires_at <= ?", [.double(now)])
        }
    }

    static func decodeBinding(_ row: SQLiteRow) throws -> SessionBinding {
        let tenantText = try row.text(0)
        guard let tenant = TenantID(tenantText) else {
            throw SQLiteColumnError(column: "tenant", found: "an invalid tenant id", expected: "a tenant id")
        }
        let issuedByText = try row.text(7)
        guard let issuedBy = SessionRule.IssuedBy(rawValue: issuedByText) else {
            throw SQLiteColumnError(column: "issued_by", found: "an unknown value", expected: "server or client")
        }
        return SessionBinding(
            key: SessionKey(tenant: tenant, header: try row.text(1), id: try row.text(2)),
            principal: BoundPrincipal(issuer: try row.text(3), subject: try row.text(4), clientID: try row.optionalText(5)),
            upstream: try row.optionalText(6), issuedBy: issuedBy, createdAt: try row.double(8),
            lastSeenAt: try row.double(9), expiresAt: try row.double(10))
    }
}
