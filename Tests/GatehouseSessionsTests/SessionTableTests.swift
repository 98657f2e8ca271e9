import Foundation
import GatehouseCore
import GatehouseSessions
import Logging
import Synchronization
import Testing

/// The binding rules of docs/sessions-and-oauth.md "Session binding" with an injected clock, on a real SQLite file.
@Suite struct SessionTableTests {
    final class Clock: Sendable {
        let value = Mutex<Double>(1_800_000_000)
        var now: WallClock { { self.value.withLock { $0 } } }
        func advance(_ s: Double) { value.withLock { $0 += s } }
    }

    struct Fixture {
        let clock = Clock()
        let path = NSTemporaryDirectory() + "gatehouse-table-\(UUID().uuidString)/state.sqlite"
        let store: SQLiteSessionStore
        let table: SessionTable
        let metrics = GatehouseMetrics()

        init() throws {
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            store = try SQLiteSessionStore(path: path, logger: logger)
            table = SessionTable(store: store, clock: clock.now, metrics: metrics, logger: logger)
        }

        func reopened() throws -> SessionTable {
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            return SessionTable(store: try SQLiteSessionStore(path: path, logger: logger), clock: clock.now, metrics: nil, logger: logger)
        }
    }

    let acme = TenantID("acme")!
    let alice = BoundPrincipal(issuer: "https://idp", subject: "alice", clientID: "c")
    let bob = BoundPrincipal(issuer: "https://idp", subject: "bob", clientID: "c")
    var key: SessionKey { SessionKey(tenant: acme, header: "Mcp-Session-Id", id: "s1") }

    @Test func firstClaimBindsSameOwnerIsExistingOthersConflict() throws {
        let f = try Fixture()
        let now = f.clock.now()
        guard case .bound = f.table.claim(key, principal: alice, upstream: "u:1", issuedBy: .server, ttl: 60, now: now) else {
            Issue.record("first claim should bind")
            return
        }
        guard case .existing = f.table.claim(key, principal: alice, upstream: "u:1", issuedBy: .server, ttl: 60, now: now) else {
            Issue.record("same owner should see its binding")
            return
        }
        guard case .conflict(let b) = f.table.claim(key, principal: bob, upstream: nil, issuedBy: .server, ttl: 60, now: now) else {
            Issue.record("another principal must conflict")
            return
        }
        #expect(b.principal == alice)
        #expect(f.metrics.sessionBindings.value(["acme"]) == 1)
    }

    @Test func headerSpellingAndTenantArePartOfTheKey() {
        #expect(SessionKey(tenant: acme, header: "Mcp-Session-Id", id: "x") == SessionKey(tenant: acme, header: "mcp_session_id", id: "x"))
        #expect(SessionKey(tenant: acme, header: "Mcp-Session-Id", id: "x") != SessionKey(tenant: TenantID("globex")!, header: "Mcp-Session-Id", id: "x"))
    }

    @Test func ofManyConcurrentFirstUsesExactlyOneWins() async throws {
        let f = try Fixture()
        let now = f.clock.now()
        let table = f.table
        let key = self.key
        let (alice, bob) = (self.alice, self.bob)
        let wins = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                group.addTask {
                    if case .bound = table.claim(key, principal: i % 2 == 0 ? alice : bob, upstream: nil, issuedBy: .client, ttl: 60, now: now) { return true }
                    return false
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
    }

    @Test func bindingsExpireAfterTheIdleTTLAndUseSlidesTheExpiry() throws {
        let f = try Fixture()
        _ = f.table.claim(key, principal: alice, upstream: nil, issuedBy: .server, ttl: 100, now: f.clock.now())
        f.clock.advance(60)
        #expect(f.table.lookup(key, now: f.clock.now()) != nil)
        f.table.touch(key, ttl: 100, now: f.clock.now())
        f.clock.advance(60)
        #expect(f.table.lookup(key, now: f.clock.now()) != nil, "the touch at 60 s slid the expiry to 160 s")
        f.clock.advance(50)
        #expect(f.table.lookup(key, now: f.clock.now()) == nil, "idle for 110 s > 100 s")
        // Once expired, the id is free: the next claim binds afresh (to whoever comes).
        guard case .bound = f.table.claim(key, principal: bob, upstream: nil, issuedBy: .server, ttl: 100, now: f.clock.now()) else {
            Issue.record("an expired binding must not block a new one")
            return
        }
    }

    @Test func persistedBindingsAndSlidExpiriesSurviveAReload() async throws {
        let f = try Fixture()
        guard case .bound(let b) = f.table.claim(key, principal: alice, upstream: "u:1", issuedBy: .server, ttl: 100, now: f.clock.now()) else {
            Issue.record("claim")
            return
        }
        try await f.table.persist(b)
        f.clock.advance(80)
        f.table.touch(key, ttl: 100, now: f.clock.now())
        await f.table.flushTouches()
        f.clock.advance(80)  // 160 s after creation, 80 s after the touch

        let reloaded = try f.reopened()
        try await reloaded.load()
        let row = reloaded.lookup(key, now: f.clock.now())
        #expect(row?.principal == alice)
        #expect(row?.upstream == "u:1")
    }

    @Test func sweepRemovesExpiredRowsFromMemoryAndStore() async throws {
        let f = try Fixture()
        for i in 0..<5 {
            let k = SessionKey(tenant: acme, header: "Mcp-Session-Id", id: "s\(i)")
            if case .bound(let b) = f.table.claim(k, principal: alice, upstream: nil, issuedBy: .server, ttl: Double(10 * (i + 1)), now: f.clock.now()) {
                try await f.table.persist(b)
            }
        }
        f.clock.advance(25)
        await f.table.sweep()
        #expect(f.table.count(tenant: acme) == 3)
        #expect(f.metrics.sessionBindings.value(["acme"]) == 3)
        let rows = try await f.store.loadBindings(now: 0)
        #expect(rows.count == 3)
    }

    @Test func aBindingTheStoreRefusedIsUndone() async throws {
        struct Refusing: SessionStore {
            struct Down: Error {}
            func loadBindings(now: Double) async throws -> [SessionBinding] { [] }
            func upsertBinding(_ binding: SessionBinding) async throws { throw Down() }
            func claimBinding(_ binding: SessionBinding, now: Double) async throws -> SessionBinding { throw Down() }
            func binding(_ key: SessionKey, now: Double) async throws -> SessionBinding? { throw Down() }
            func bindings(tenant: TenantID, subject: String?, now: Double) async throws -> [SessionBinding] { throw Down() }
            func deleteBinding(_ key: SessionKey) async throws {}
            func touchBindings(_ updates: [SessionTouch]) async throws {}
            func deleteExpiredBindings(now: Double) async throws -> Int { 0 }
            func insertFlow(_ flow: OAuthFlowRecord) async throws {}
            func flow(tenant: TenantID, sessionID: String) async throws -> OAuthFlowRecord? { nil }
            func flow(startHandle: String) async throws -> OAuthFlowRecord? { nil }
            func flows(sessionID: String) async throws -> [OAuthFlowRecord] { [] }
            func setFlowCookie(tenant: TenantID, sessionID: String, startHandle: String, cookieHash: String) async throws {}
            func completeFlow(tenant: TenantID, sessionID: String, startHandle: String, now: Double) async throws -> Bool { false }
            func deleteFlows(tenant: TenantID, sessionID: String) async throws -> Int { 0 }
            func deleteFlows(tenant: TenantID, subject: String, issuer: String?) async throws -> Int { 0 }
            func deleteExpiredFlows(now: Double) async throws -> Int { 0 }
            func ping() async -> Bool { false }
        }
        let table = SessionTable(store: Refusing(), clock: { 1000 }, metrics: nil, logger: Logger(label: "t"))
        guard case .bound(let b) = table.claim(key, principal: alice, upstream: nil, issuedBy: .client, ttl: 60, now: 1000) else {
            Issue.record("claim")
            return
        }
        await #expect(throws: Refusing.Down.self) { try await table.persist(b) }
        #expect(table.lookup(key, now: 1000) == nil, "memory must not hold a binding the store lost")
    }

    @Test func anIDBoundAgainRightAfterItsBindingEndedKeepsTheNewBinding() async throws {
        let f = try Fixture()
        let now = f.clock.now()
        guard case .bound(let first) = f.table.claim(key, principal: alice, upstream: "u:1", issuedBy: .server, ttl: 60, now: now) else {
            Issue.record("claim")
            return
        }
        try await f.table.persist(first)
        f.table.end(key)  // DELETE answered 2xx: the store delete runs in the background
        guard case .bound(let second) = f.table.claim(key, principal: bob, upstream: "u:2", issuedBy: .server, ttl: 60, now: now) else {
            Issue.record("an ended binding must free the id")
            return
        }
        try await f.table.persist(second)
        // Let the background delete land (bounded), then look at memory and the store.
        var stored: [SessionBinding] = []
        for _ in 0..<100 {
            try await Task.sleep(for: .milliseconds(10))
            stored = try await f.store.loadBindings(now: now)
            if stored.map(\.principal) == [bob], f.table.lookup(key, now: now)?.principal == bob { break }
        }
        #expect(f.table.lookup(key, now: now)?.principal == bob, "the background delete must not drop the new binding from memory")
        #expect(stored.map(\.principal) == [bob], "nor from the store")
    }

    @Test func aClaimAnotherWriterWonFirstYieldsToTheStoredBinding() async throws {
        let f = try Fixture()
        let now = f.clock.now()
        // Another replica bound the id in the shared store; this table has not seen it.
        let theirs = SessionBinding(
            key: key, principal: bob, upstream: "u:2", issuedBy: .client, createdAt: now, lastSeenAt: now, expiresAt: now + 60)
        try await f.store.upsertBinding(theirs)
        guard case .bound(let mine) = f.table.claim(key, principal: alice, upstream: "u:1", issuedBy: .client, ttl: 60, now: now) else {
            Issue.record("memory knew nothing of it")
            return
        }
        let winner = try await f.table.persist(mine)
        #expect(winner == theirs, "the store's binding wins")
        #expect(f.table.lookup(key, now: now) == theirs, "and replaces the lost claim in memory")
        #expect(try await f.store.binding(key, now: now) == theirs, "the stored row is untouched")
        #expect(f.table.count(tenant: acme) == 1)
    }

    @Test func reloadingReplacingMakesMemoryExactlyTheStore() async throws {
        let f = try Fixture()
        let now = f.clock.now()
        let other = SessionKey(tenant: acme, header: key.header, id: "gone-from-the-store")
        for k in [key, other] {
            guard case .bound(let b) = f.table.claim(k, principal: alice, upstream: nil, issuedBy: .client, ttl: 60, now: now) else {
                Issue.record("claim")
                return
            }
            try await f.table.persist(b)
        }
        // Meanwhile, in the store: one row removed, the other re-bound to bob (another replica).
        try await f.store.deleteBinding(other)
        let rebound = SessionBinding(key: key, principal: bob, upstream: nil, issuedBy: .client, createdAt: now, lastSeenAt: now, expiresAt: now + 60)
        try await f.store.upsertBinding(rebound)
        try await f.table.load(replacing: true)
        #expect(f.table.lookup(other, now: now) == nil)
        #expect(f.table.lookup(key, now: now)?.principal == bob)
        #expect(f.table.count(tenant: acme) == 1)
    }

    @Test func logLabelsNeverContainTheID() {
        let label = SessionTable.logLabel("secret-session-id")
        #expect(!label.contains("secret"))
        #expect(label.count == 12)
        #expect(label == SessionTable.logLabel("secret-session-id"))
    }
}
