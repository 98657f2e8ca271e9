import GatehouseCore
import GatehouseSessions
import Logging
import Synchronization
import Testing

@testable import GatehousePostgres

/// What only the PostgreSQL store has: a server that may be away, TLS, LISTEN/NOTIFY, and
/// errors and logs that must not carry the password or bound values.
@Suite struct PostgresStoreOfflineTests {
    @Test func aRefusedConnectionFailsAtOnceAndNeverShowsThePassword() async throws {
        let log = RecordingLogHandler.Box()
        let store = try PostgresStore(
            url: "postgres://gh:hunter2-secret@127.0.0.1:\(deadLoopbackPort())/gatehouse", logger: log.logger, options: Self.shortTimeouts)
        #expect(await store.ping() == false)
        let error = await #expect(throws: PostgresStoreError.self) { try await store.loadBindings(now: 0) }
        #expect(error?.code == .unavailable)
        #expect(!String(describing: error).contains("hunter2"))
        #expect(!String(reflecting: error).contains("hunter2"))
        await store.close()
        #expect(!log.text.contains("hunter2"))
        #expect(log.text.contains("***"), "the URL is logged masked")
    }

    /// A server that accepts the connection and then never says a word: only the store's own
    /// deadlines end the wait (TCP would wait for minutes).
    @Test func aServerThatNeverAnswersTimesOut() async throws {
        let silent = SilentListener()
        let store = try PostgresStore(
            url: "postgres://gh:hunter2-secret@127.0.0.1:\(silent.port)/gatehouse", logger: quietLogger, options: Self.shortTimeouts)
        let started = ContinuousClock.now
        #expect(await store.ping() == false)
        let error = await #expect(throws: PostgresStoreError.self) { try await store.loadBindings(now: 0) }
        #expect(error?.code == .timedOut || error?.code == .unavailable)
        // Generous against a loaded machine, far below what TCP alone would take.
        #expect(ContinuousClock.now - started < .seconds(30))
        await store.close()
    }

    static var shortTimeouts: PostgresStore.Options {
        var options = PostgresStore.Options()
        options.connectTimeout = .milliseconds(500)
        options.operationTimeout = .seconds(1)
        options.migrationTimeout = .seconds(1)
        options.pingTimeout = .seconds(1)
        return options
    }

    @Test func aBadURLOrRootCertificateFileStopsTheStart() throws {
        let badURL = #expect(throws: PostgresStoreError.self) {
            try PostgresStore(url: "postgres://gh:hunter2@h/d?sslmode=prefer", logger: quietLogger)
        }
        #expect(badURL?.code == .invalidURL)
        #expect(!String(describing: badURL).contains("hunter2"))
        let badRoots = #expect(throws: PostgresStoreError.self) {
            try PostgresStore(url: "postgres://gh:pw@h/d?sslmode=verify-full&sslrootcert=%2Fnonexistent%2Fca.pem", logger: quietLogger)
        }
        #expect(badRoots?.code == .tlsConfiguration)
    }
}

@Suite(.enabled(if: PostgresTestServer.isConfigured, PostgresTestServer.skipReason))
struct PostgresStoreTests {
    @Test func aMissingDatabaseIsReportedAtOnce() async throws {
        var url = try PostgresTestServer.adminURL()
        url.database = "gh_test_does_not_exist"
        let error = await #expect(throws: PostgresStoreError.self) {
            _ = try await PostgresStore.open(url: url.connectionString, logger: quietLogger)
        }
        #expect(error?.code == .unavailable)
        #expect(error?.sqlState == "3D000")
    }

    @Test func tlsIsRequiredWhenTheURLSaysSo() async throws {
        // The test server speaks plain TCP only: sslmode=require must refuse it, not fall back.
        var url = try PostgresTestServer.adminURL()
        url.sslMode = .require
        let error = await #expect(throws: PostgresStoreError.self) {
            _ = try await PostgresStore.open(url: url.connectionString, logger: quietLogger)
        }
        #expect(error?.code == .unavailable)
    }

    @Test func errorsAndLogsCarryNoBoundValues() async throws {
        let url = try PostgresTestServer.adminURL()
        let schema = try await PostgresTestServer.createSchema()
        let log = RecordingLogHandler.Box()
        let store = try await PostgresStore.open(
            url: url.connectionString, logger: log.logger, options: PostgresTestServer.options(schema: schema))
        let secretHash = "SECRET-HASH-" + String(repeating: "9", count: 52)
        let key = AdminKeyRecord(id: "key-id-LEAK-CHECK", tenant: tenantA, name: nil, secretHash: secretHash, createdAt: 1)
        try await store.insertAdminKey(key, audit: audit("key.create", tenant: tenantA))
        let error = await #expect(throws: PostgresStoreError.self) {
            try await store.insertAdminKey(key, audit: audit("key.create", tenant: tenantA))
        }
        #expect(error?.sqlState == PostgresStoreError.uniqueViolation)
        for text in [String(describing: error), String(reflecting: error), log.text] {
            #expect(!text.contains("SECRET-HASH"))
            #expect(!text.contains("LEAK-CHECK"))
        }
        // A row another writer left unreadable is skipped and logged by table, not by value.
        try await store.upsertBinding(makeBinding(id: "session-LEAK-CHECK"))
        try await store.perform { client in
            _ = try await client.query("UPDATE session_bindings SET tenant = 'Not A Tenant!'")
        }
        #expect(try await store.loadBindings(now: 0).isEmpty)
        #expect(log.text.contains("session_bindings"))
        #expect(!log.text.contains("LEAK-CHECK"))
        #expect(!log.text.contains(url.password ?? "no password"))
        await store.close()
        await PostgresTestServer.dropSchema(schema)
    }

    @Test func aNotificationReachesAListenerOnAnotherStore() async throws {
        let url = try PostgresTestServer.adminURL().connectionString
        let schema = try await PostgresTestServer.createSchema()
        let options = PostgresTestServer.options(schema: schema)
        let listener = try await PostgresStore.open(url: url, logger: quietLogger, options: options)
        let sender = try await PostgresStore.open(url: url, logger: quietLogger, options: options)
        // Channels belong to the database, not the schema: a name of this test's own.
        let channel = schema + "_changes"
        let (listening, listeningReady) = AsyncStream<Void>.makeStream()
        let (payloads, received) = AsyncStream<String>.makeStream()
        let task = Task {
            try await listener.listen(
                channel: channel, onListening: { listeningReady.yield() }, onNotification: { received.yield($0) })
        }
        let collected = Task {
            var seen: [String] = []
            for await payload in payloads {
                seen.append(payload)
                if seen.count == 2 { break }
            }
            return seen
        }
        // Bounded waits: a listener that failed must fail the test, not hang it.
        try await withPostgresDeadline(.seconds(5)) {
            for await _ in listening { return }
        }
        try await sender.notify(channel: channel, payload: "bindings:acme")
        try await sender.notify(channel: channel + "_other", payload: "not for us")
        try await sender.notify(channel: channel, payload: "idps")
        let first = try await withPostgresDeadline(.seconds(5)) { await collected.value }
        #expect(first == ["bindings:acme", "idps"])
        task.cancel()
        _ = await task.result
        await sender.close()
        await listener.close()
        await PostgresTestServer.dropSchema(schema)
    }
}

/// Keeps every log line (message and metadata) so a test can look for what must not be there.
struct RecordingLogHandler: LogHandler {
    final class Box: Sendable {
        private let lines = Mutex<[String]>([])
        var text: String { lines.withLock { $0.joined(separator: "\n") } }
        func append(_ line: String) { lines.withLock { $0.append(line) } }

        var logger: Logger {
            var logger = Logger(label: "gatehouse.test.recording") { _ in RecordingLogHandler(box: self) }
            logger.logLevel = .trace
            return logger
        }
    }

    let box: Box
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = all.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
        box.append("\(event.level) \(event.message) \(fields) \(event.error.map { "\($0)" } ?? "")")
    }
}
