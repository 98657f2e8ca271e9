import Benchmark
import Foundation
import GatehouseCore
import GatehouseSessions
import Synchronization

/// The session-binding table: a lookup among 1,000,000 live bindings (the hot path, memory
/// only), and making one new binding durable in SQLite (what a response that creates a session
/// waits for).
func sessionBenchmarks() {
    let keys = Cursor(count: SessionTableFixture.sampleSize)
    Benchmark("Session lookup (1,000,000 bindings)", configuration: .init(scalingFactor: .kilo)) { benchmark, fixture in
        let now = SystemWallClock.now()
        for _ in benchmark.scaledIterations {
            blackHole(fixture.table.lookup(fixture.keys[keys.next()], now: now))
        }
    } setup: {
        try SessionTableFixture.make()
    } teardown: {
        SessionTableFixture.removeStores()
    }

    for synchronous in [SQLiteSynchronous.normal, .full] {
        let name = "sqlite-\(synchronous.rawValue.lowercased())"
        Benchmark(
            "Session binding made durable (SQLite upsert, synchronous=\(synchronous.rawValue))"
        ) { (benchmark: Benchmark, fixture: DurableFixture) async in
            for _ in benchmark.scaledIterations {
                do {
                    try await fixture.store.upsertBinding(fixture.nextBinding())
                } catch {
                    benchmark.error("upsert failed: \(error)")
                    return
                }
            }
        } setup: {
            try DurableFixture(path: try Fixtures.temporaryDirectory(name) + "/state.sqlite", synchronous: synchronous)
        } teardown: {
            Fixtures.removeTemporaryDirectories(name)
        }
    }
}

/// A `SessionTable` holding 1,000,000 live bindings over 100 tenants, and 4,096 of their keys
/// picked at random. Its store (SQLite in a temporary folder) stays empty: lookups never touch it.
struct SessionTableFixture: Sendable {
    static let bindingCount = 1_000_000
    /// Keys looked up (a power of two, for `Cursor`).
    static let sampleSize = 4096

    let table: SessionTable
    let keys: [SessionKey]

    static func make() throws -> SessionTableFixture {
        let store = try SQLiteSessionStore(path: try Fixtures.temporaryDirectory("sessions") + "/state.sqlite", logger: Fixtures.logger)
        let table = SessionTable(store: store, clock: SystemWallClock.now, metrics: nil, logger: Fixtures.logger)
        let now = SystemWallClock.now()
        var keys: [SessionKey] = []
        keys.reserveCapacity(bindingCount)
        for i in 0..<bindingCount {
            let tenant = i % 100
            let key = SessionKey(tenant: Fixtures.tenantID(tenant), header: "Mcp-Session-Id", id: UUID().uuidString.lowercased())
            let principal = BoundPrincipal(issuer: Fixtures.issuer(tenant), subject: "user-\(i % 50_000)", clientID: Fixtures.client)
            let claim = table.claim(key, principal: principal, upstream: "127.0.0.1:18081", issuedBy: .server, ttl: 3600, now: now)
            guard case .bound = claim else { throw FixtureError("session id collision") }
            keys.append(key)
        }
        var generator = SystemRandomNumberGenerator()
        let sample = (0..<sampleSize).map { _ in keys[Int.random(in: 0..<bindingCount, using: &generator)] }
        guard sample.allSatisfy({ table.lookup($0, now: now) != nil }) else { throw FixtureError("a binding is missing") }
        return SessionTableFixture(table: table, keys: sample)
    }

    static func removeStores() { Fixtures.removeTemporaryDirectories("sessions") }
}

/// A fresh SQLite store and a supply of new bindings to write to it.
final class DurableFixture: Sendable {
    let store: SQLiteSessionStore
    private let counter = Mutex(0)
    private let principal = BoundPrincipal(issuer: Fixtures.issuer(0), subject: "user-4f1c2a9e", clientID: Fixtures.client)

    init(path: String, synchronous: SQLiteSynchronous) throws {
        store = try SQLiteSessionStore(path: path, logger: Fixtures.logger, synchronous: synchronous)
    }

    /// A binding for a session id not written before.
    func nextBinding() -> SessionBinding {
        let n = counter.withLock { n -> Int in
            n += 1
            return n
        }
        let now = SystemWallClock.now()
        return SessionBinding(
            key: SessionKey(tenant: Fixtures.tenantID(0), header: "Mcp-Session-Id", id: "s-\(n)"), principal: principal,
            upstream: "127.0.0.1:18081", issuedBy: .server, createdAt: now, lastSeenAt: now, expiresAt: now + 3600)
    }
}
