import Foundation
import GatehouseCore
import PostgresNIO
import Synchronization

@testable import GatehouseSessions
@testable import GatehousePostgres

/// A store the conformance cases can also close.
protocol ClosableStore: GatehouseStore {
    func close() async
}

extension SQLiteSessionStore: ClosableStore {}
extension PostgresStore: ClosableStore {}

/// Where the conformance cases get their stores: one backend per store implementation.
protocol StoreBackend: Sendable {
    /// Fresh, empty storage (a file, a database) for one test; no store is opened on it yet.
    func makeStorage() async throws -> any StoreStorage
}

/// One test's storage. Every store opened on it shares its data, like replicas sharing a database.
protocol StoreStorage: Sendable {
    /// Opens a store on the storage and brings its schema up to date (what a start does).
    func open() async throws -> any ClosableStore
    /// The rows of the schema version table, read around the store.
    func schemaVersions() async throws -> [Int64]
    /// Overwrites the recorded schema version, as a newer Gatehouse would have left it.
    func setSchemaVersion(_ version: Int64) async throws
    /// `SELECT count(*) …` read around the store: what the tables hold, not what the store says.
    func count(_ sql: String) async throws -> Int64
    /// Closes every store opened on it and deletes it.
    func destroy() async
}

/// Runs `body` with fresh storage and a first store on it; the storage is always destroyed.
func withStore(
    _ backend: any StoreBackend, _ body: (any ClosableStore, any StoreStorage) async throws -> Void
) async throws {
    let storage = try await backend.makeStorage()
    do {
        try await body(try await storage.open(), storage)
    } catch {
        await storage.destroy()
        throw error
    }
    await storage.destroy()
}

// MARK: - SQLite

struct SQLiteBackend: StoreBackend {
    func makeStorage() async throws -> any StoreStorage { try SQLiteStorage() }
}

final class SQLiteStorage: StoreStorage {
    let directory: String
    var path: String { directory + "/state.sqlite" }
    private let stores = Mutex<[SQLiteSessionStore]>([])

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/gatehouse-conformance-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CocoaError(.fileWriteUnknown)
        }
        directory = String(cString: made)
    }

    func open() async throws -> any ClosableStore {
        let store = try SQLiteSessionStore(path: path, logger: quietLogger)
        stores.withLock { $0.append(store) }
        return store
    }

    func schemaVersions() async throws -> [Int64] {
        let db = try SQLiteDatabase(path: path)
        defer { db.close() }
        return try db.query("SELECT version FROM schema_version") { try $0.int64(0) }
    }

    func setSchemaVersion(_ version: Int64) async throws {
        let db = try SQLiteDatabase(path: path)
        defer { db.close() }
        try db.execute("UPDATE schema_version SET version = ?", [.int(version)])
    }

    func count(_ sql: String) async throws -> Int64 {
        let db = try SQLiteDatabase(path: path)
        defer { db.close() }
        return try db.query(sql) { try $0.int64(0) }.first ?? -1
    }

    func destroy() async {
        for store in stores.withLock({ $0 }) { await store.close() }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

// MARK: - PostgreSQL

/// Every test gets a schema of its own on the test server, dropped afterwards.
struct PostgresBackend: StoreBackend {
    /// Pool size of each store (the concurrency tests want real parallel connections).
    var maximumConnections = 4

    func makeStorage() async throws -> any StoreStorage {
        PostgresStorage(
            url: try PostgresTestServer.adminURL(), schema: try await PostgresTestServer.createSchema(),
            maximumConnections: maximumConnections)
    }
}

final class PostgresStorage: StoreStorage {
    let url: PostgresURL
    let schema: String
    let options: PostgresStore.Options
    private let stores = Mutex<[PostgresStore]>([])

    init(url: PostgresURL, schema: String, maximumConnections: Int) {
        self.url = url
        self.schema = schema
        options = PostgresTestServer.options(schema: schema, maximumConnections: maximumConnections)
    }

    func open() async throws -> any ClosableStore {
        let store = try PostgresStore(url: url, logger: quietLogger, options: options)
        stores.withLock { $0.append(store) }
        try await store.migrate()
        return store
    }

    /// Runs `body` with the pool of a store of its own that never migrates: the schema as it is.
    private func withRawClient<T: Sendable>(_ body: @escaping @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let store = try PostgresStore(url: url, logger: quietLogger, options: options)
        do {
            let result = try await PostgresStore.mapErrors { try await body(store.client) }
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }

    func schemaVersions() async throws -> [Int64] {
        try await withRawClient { client in
            try await client.rows("SELECT version FROM schema_version").map { try $0.decode(Int64.self) }
        }
    }

    func setSchemaVersion(_ version: Int64) async throws {
        try await withRawClient { client in
            _ = try await client.query("UPDATE schema_version SET version = \(version)")
        }
    }

    func count(_ sql: String) async throws -> Int64 {
        try await withRawClient { client in
            try await client.rows(PostgresQuery(unsafeSQL: sql)).first?.decode(Int64.self) ?? -1
        }
    }

    func destroy() async {
        for store in stores.withLock({ $0 }) { await store.close() }
        await PostgresTestServer.dropSchema(schema)
    }
}
