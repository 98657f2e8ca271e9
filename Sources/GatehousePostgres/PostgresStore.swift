import GatehouseCore
import GatehouseSessions
import Logging
import PostgresNIO
import Synchronization

/// The shared store (`store: postgres://…`, docs/store-and-replicas.md "Running several replicas"): bindings, OAuth flows, registered IdPs,
/// tenant admin keys and the audit log of several Gatehouse replicas in one PostgreSQL database.
/// Every semantic is `SQLiteSessionStore`'s; the same conformance tests run against both.
///
/// Durability: every mutating call returns after its transaction committed on the server.
///
/// Connections come from a pool (PostgresNIO's `PostgresClient`) whose background task runs
/// from `init` until `close()`. The schema is brought up to date once, by the first call (or
/// `migrate()`); replicas starting together take turns on an advisory lock.
///
/// Nothing the store logs or throws holds a session id, a token, a key hash or the password.
public final class PostgresStore: Sendable {
    /// The database, password masked when printed.
    public let url: PostgresURL
    let client: PostgresClient
    let logger: Logger
    let options: Options
    private let runner: Task<Void, Never>
    private let state = Mutex(State())
    /// Set while the database looks away (a call failed for want of an answer); cleared by the
    /// next call that succeeds. Meanwhile calls get `outageTimeout`, so that a request needing
    /// a write fails fast with 503 instead of holding its client for `operationTimeout`.
    private let outage = Mutex(false)

    private struct State {
        var closed = false
        /// The migration in progress or done; nil before the first call and after a failed try.
        var migration: Task<Void, Error>?
    }

    /// Parses `url` and starts the pool. No connection is made yet: the first call connects
    /// and migrates. Throws `PostgresStoreError` (`.invalidURL`, `.tlsConfiguration`).
    public convenience init(url: String, logger: Logger, options: Options = Options()) throws {
        let parsed: PostgresURL
        do {
            parsed = try PostgresURL(parsing: url)
        } catch {
            throw PostgresStoreError(.invalidURL, error.message)
        }
        try self.init(url: parsed, logger: logger, options: options)
    }

    public init(url: PostgresURL, logger: Logger, options: Options = Options()) throws {
        self.url = url
        self.logger = logger
        self.options = options
        // The pool's own log lines are about connections, at warning and above only.
        var background = logger
        background.logLevel = max(logger.logLevel, .warning)
        let client = PostgresClient(
            configuration: try Self.clientConfiguration(url, options: options), backgroundLogger: background)
        self.client = client
        runner = Task { await client.run() }
        logger.info("postgres store opened", metadata: ["url": "\(url)"])
    }

    /// Connects (if need be) and brings the schema up to date; returns the store.
    public static func open(url: String, logger: Logger, options: Options = Options()) async throws -> PostgresStore {
        let store = try PostgresStore(url: url, logger: logger, options: options)
        do {
            try await store.migrate()
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    deinit { runner.cancel() }

    /// Shuts the pool down and waits until its connections are closed. Calls still in flight
    /// may fail; later calls throw `SessionStoreError.closed`. Calling it again does nothing.
    public func close() async {
        let first = state.withLock { s in
            defer { s.closed = true }
            return !s.closed
        }
        if first { runner.cancel() }
        await runner.value
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Brings the schema to the latest version, once; later calls return at once. A failure
    /// other than a newer schema (the database was down) is retried by the next call.
    public func migrate() async throws {
        let migration: Task<Void, Error> = try state.withLock { s in
            if s.closed { throw SessionStoreError.closed }
            if let running = s.migration { return running }
            let task = Task { [url, logger, options] in
                try await Self.mapErrors {
                    try await withPostgresDeadline(options.migrationTimeout) {
                        try await Self.migrate(url, logger: logger, options: options)
                    }
                }
            }
            s.migration = task
            return task
        }
        do {
            try await migration.value
        } catch {
            if !(error is SessionStoreError) {
                state.withLock { s in
                    if s.migration == migration { s.migration = nil }
                }
            }
            throw error
        }
    }

    /// Migrates on a connection of its own, closed afterwards.
    private static func migrate(_ url: PostgresURL, logger: Logger, options: Options) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: try connectionConfiguration(url, options: options), id: 0, logger: quietLogger)
        do {
            try await PostgresSchema.migrate(connection, logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
    }

    /// Whether the database answers (and the schema is in place), within `pingTimeout`.
    public func ping() async -> Bool {
        do {
            try await withPostgresDeadline(options.pingTimeout) { [self] in
                try await migrate()
                try await client.query("SELECT 1")
            }
            return true
        } catch {
            return false
        }
    }

    /// Runs `body` with the pool once the schema is in place, within `operationTimeout`, with
    /// errors turned into `PostgresStoreError`/`SessionStoreError`.
    @discardableResult
    func perform<T: Sendable>(_ body: @escaping @Sendable (PostgresClient) async throws -> T) async throws -> T {
        if isClosed { throw SessionStoreError.closed }
        let limit = outage.withLock { $0 } ? options.outageTimeout : options.operationTimeout
        do {
            try await migrate()
            let client = self.client
            let result = try await Self.mapErrors {
                try await withPostgresDeadline(limit) { try await body(client) }
            }
            outage.withLock { $0 = false }
            return result
        } catch let error as PostgresStoreError where error.code == .unavailable || error.code == .timedOut {
            noteOutage(error)
            throw error
        }
    }

    /// Calls made from now on get `outageTimeout` until one succeeds.
    func noteOutage(_ error: Error) {
        let began = outage.withLock { o in defer { o = true }; return !o }
        if began { logger.error("database unreachable; calls fail fast until it answers", metadata: ["error": "\(error)"]) }
    }

    /// Runs `body` in one transaction (see `PostgresClient.transaction`).
    @discardableResult
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await perform { client in try await client.transaction(body) }
    }

    static func mapErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError where error.code == .poolClosed {
            throw SessionStoreError.closed
        } catch let error as PSQLError {
            throw PostgresStoreError(error)
        } catch let error as PostgresDecodingError {
            throw PostgresStoreError(decoding: error)
        }
    }

    /// Logs a row that could not be decoded. Says which table, never the row's values.
    func logSkippedRow(table: String, _ error: Error) {
        // PostgresNIO's decoding error carries the cell's bytes: only its column is told.
        let reason = (error as? PostgresDecodingError).map { PostgresStoreError(decoding: $0) } ?? error
        logger.warning("skipped unreadable row in session store", metadata: ["table": "\(table)", "reason": "\(reason)"])
    }
}

extension PostgresStore: CustomStringConvertible {
    public var description: String { "PostgresStore(\(url))" }
}
