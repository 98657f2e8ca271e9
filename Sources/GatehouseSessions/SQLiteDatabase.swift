import CSQLite
import Foundation

/// A failed SQLite call. `message` is SQLite's own text, which names tables and columns but
/// never bound values, so the error is safe to log.
public struct SQLiteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The extended result code (e.g. 1555 for a primary-key constraint).
    public var code: Int32
    public var message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// The primary result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT`, …).
    public var primaryCode: Int32 { code & 0xFF }
    public var description: String { "SQLite error \(code): \(message)" }
}

/// How hard a commit waits for the disk (`PRAGMA synchronous`, in WAL mode).
public enum SQLiteSynchronous: String, Sendable {
    /// A committed transaction survives `kill -9` of the process (it is in the OS page cache),
    /// but power loss or an OS crash may lose the last few transactions. No fsync per commit.
    case normal = "NORMAL"
    /// Every commit is fsynced: it also survives power loss, at a higher cost per write.
    case full = "FULL"
}

/// One SQLite connection with cached prepared statements.
///
/// Not thread-safe: it is owned by one thread (`SQLiteWorker`) for its whole life, so it is
/// opened with `SQLITE_OPEN_NOMUTEX` and keeps no locks of its own.
final class SQLiteDatabase {
    struct Options: Sendable {
        var synchronous: SQLiteSynchronous = .normal
        /// How long a statement waits for another connection's lock before failing with BUSY.
        var busyTimeoutMilliseconds: Int32 = 5000
    }

    let path: String
    private var handle: OpaquePointer?
    /// Keyed by SQL text; the store only ever uses a small, fixed set of statements.
    private var statements: [String: OpaquePointer] = [:]

    /// Opens (creating if needed) the database at `path`: missing parent directories are created
    /// (0700), the file is created or tightened to 0600 before SQLite touches it (SQLite gives
    /// the `-wal` and `-shm` files the database file's mode), then WAL mode is switched on.
    init(path: String, options: Options = Options()) throws {
        self.path = path
        try preparePrivateFile(at: path)
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open the database"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, options.busyTimeoutMilliseconds)
        do {
            // journal_mode answers the mode actually in force; a file system that cannot do WAL
            // answers something else, and the durability promise would not hold.
            // Several processes opening one new file at once: switching it to WAL can answer
            // SQLITE_BUSY without waiting on the busy handler, so that is retried (bounded).
            var mode: String?
            var waited: Int32 = 0
            while true {
                do {
                    mode = try query("PRAGMA journal_mode=WAL") { try $0.text(0) }.first
                    break
                } catch let error as SQLiteError where error.code & 0xFF == SQLITE_BUSY && waited < options.busyTimeoutMilliseconds {
                    usleep(10_000)
                    waited += 10
                }
            }
            guard mode?.lowercased() == "wal" else {
                throw SQLiteError(code: SQLITE_ERROR, message: "WAL journal mode unavailable (got \(mode ?? "nothing"))")
            }
            try exec("PRAGMA synchronous=\(options.synchronous.rawValue)")
            // Deleted or overwritten content (sealed tokens of finished flows) is zeroed in the
            // page instead of lingering in free space.
            try exec("PRAGMA secure_delete=ON")
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Finalizes every cached statement and closes the connection. Idempotent.
    func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// Runs SQL without parameters (schema, pragmas). Several statements may be separated by `;`.
    func exec(_ sql: String) throws {
        let db = try connection()
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &errorMessage)
        defer { sqlite3_free(errorMessage) }
        guard rc == SQLITE_OK else {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(db))
            throw SQLiteError(code: sqlite3_extended_errcode(db), message: message)
        }
    }

    /// Runs one statement to completion with `parameters` bound; returns the rows it changed.
    @discardableResult
    func execute(_ sql: String, _ parameters: [SQLiteValue] = []) throws -> Int {
        let db = try connection()
        try withStatement(sql, parameters) { statement in
            while try step(statement) {}
        }
        return Int(sqlite3_changes(db))
    }

    /// Runs one query with `parameters` bound and maps every row. `SQLiteRow` is only valid
    /// inside `row`.
    func query<T>(_ sql: String, _ parameters: [SQLiteValue] = [], row: (SQLiteRow) throws -> T) throws -> [T] {
        try withStatement(sql, parameters) { statement in
            var out: [T] = []
            while try step(statement) { out.append(try row(SQLiteRow(statement: statement))) }
            return out
        }
    }

    /// Runs `body` in one transaction, committed if it returns and rolled back if it throws.
    /// IMMEDIATE takes the write lock up front, so a read-then-write body cannot fail halfway
    /// with a stale snapshot when another connection writes the same file.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    /// Copies the WAL into the database and truncates it, so overwritten pages (erased tokens)
    /// do not survive in old WAL frames. Best effort: gives up at once, instead of waiting for
    /// the busy timeout, if another connection is reading or writing; returns whether it ran.
    @discardableResult
    func checkpointTruncatingWAL(busyTimeoutMilliseconds: Int32) -> Bool {
        guard let handle else { return false }
        sqlite3_busy_timeout(handle, 0)
        defer { sqlite3_busy_timeout(handle, busyTimeoutMilliseconds) }
        return sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_TRUNCATE, nil, nil) == SQLITE_OK
    }

    // MARK: - Statements

    private func connection() throws -> OpaquePointer {
        guard let handle else { throw SQLiteError(code: SQLITE_MISUSE, message: "the database is closed") }
        return handle
    }

    /// Binds `parameters` to the cached statement for `sql`, runs `body`, then resets it and
    /// clears its bindings (so copies of bound values, tokens included, do not stay in memory).
    private func withStatement<T>(_ sql: String, _ parameters: [SQLiteValue], _ body: (OpaquePointer) throws -> T) throws -> T {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        guard Int(sqlite3_bind_parameter_count(statement)) == parameters.count else {
            throw SQLiteError(code: SQLITE_RANGE, message: "expected \(sqlite3_bind_parameter_count(statement)) parameters, got \(parameters.count)")
        }
        for (offset, value) in parameters.enumerated() {
            let rc = value.bind(to: statement, at: Int32(offset + 1))
            guard rc == SQLITE_OK else { throw lastError(rc) }
        }
        return try body(statement)
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        let db = try connection()
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw lastError(rc)
        }
        statements[sql] = statement
        return statement
    }

    /// True when a row is ready, false when the statement is done.
    private func step(_ statement: OpaquePointer) throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc: throw lastError(rc)
        }
    }

    private func lastError(_ rc: Int32) -> SQLiteError {
        guard let handle else { return SQLiteError(code: rc, message: "the database is closed") }
        let code = sqlite3_extended_errcode(handle)
        // The connection's error code is the call's own one; fall back to `rc` if they disagree
        // on the primary code (e.g. an API misuse that never reached the connection).
        return SQLiteError(code: code & 0xFF == rc & 0xFF ? code : rc, message: String(cString: sqlite3_errmsg(handle)))
    }
}

/// Creates the parent directories (0700) and the file (0600) so SQLite never creates them
/// with the process umask; an existing file is tightened to 0600, as it holds sealed tokens.
private func preparePrivateFile(at path: String) throws {
    let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
    do {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    } catch {
        throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot create directory \(directory): \(error.localizedDescription)")
    }
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
        throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot create \(path): \(String(cString: strerror(errno)))")
    }
    defer { _ = close(fd) }
    guard fchmod(fd, 0o600) == 0 else {
        throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot set mode 0600 on \(path): \(String(cString: strerror(errno)))")
    }
}
