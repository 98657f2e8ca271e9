import Foundation
import GatehouseCore
import Logging
import Testing

@testable import GatehouseSessions

/// How replicas name a binding in change notifications without its session id, and how a
/// receiver finds the binding it names.
@Suite struct BindingDigestTests {
    let salt = [UInt8](repeating: 3, count: 32)
    let acme = TenantID("acme")!
    let alice = BoundPrincipal(issuer: "https://idp", subject: "alice", clientID: "c")

    func key(_ id: String, tenant: String = "acme", header: String = "Mcp-Session-Id") -> SessionKey {
        SessionKey(tenant: TenantID(tenant)!, header: header, id: id)
    }

    @Test func aDigestDependsOnEveryPartOfTheKeyAndOnTheSalt() throws {
        let digester = try #require(BindingDigester(salt: salt))
        let base = digester.digest(key("s1"))
        #expect(digester.digest(key("s1")) == base, "stable")
        #expect(digester.digest(key("s1", header: "mcp_session_id")) == base, "the header is canonical")
        #expect(digester.digest(key("s2")) != base)
        #expect(digester.digest(key("s1", tenant: "globex")) != base)
        #expect(digester.digest(key("s1", header: "X-Other")) != base)
        // Field boundaries cannot be shifted: ("acme", "ab", "c") is not ("acme", "a", "bc").
        #expect(digester.digest(key("c", header: "ab")) != digester.digest(key("bc", header: "a")))
        #expect(try #require(BindingDigester(salt: Array(repeating: 4, count: 32))).digest(key("s1")) != base, "another deployment")
        #expect(base.bytes.count == BindingDigest.byteCount)
        #expect(BindingDigest(bytes: base.bytes) == base)
    }

    @Test func aShortSaltOrDigestIsRefused() {
        #expect(BindingDigester(salt: Array(repeating: 1, count: 31)) == nil)
        #expect(BindingDigester(salt: []) == nil)
        #expect(BindingDigest(bytes: Array(repeating: 1, count: 15)) == nil)
        #expect(BindingDigest(bytes: Array(repeating: 1, count: 17)) == nil)
    }

    func table() throws -> SessionTable {
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let store = try SQLiteSessionStore(path: NSTemporaryDirectory() + "gatehouse-digest-\(UUID().uuidString)/state.sqlite", logger: logger)
        return SessionTable(store: store, shared: true, clock: { 1_800_000_000 }, metrics: nil, logger: logger)
    }

    func bind(_ table: SessionTable, _ key: SessionKey) {
        _ = table.claim(key, principal: alice, upstream: nil, issuedBy: .client, ttl: 60, now: 1_800_000_000)
    }

    @Test func evictingByDigestDropsExactlyTheBindingItNames() throws {
        let table = try table()
        let digester = try #require(BindingDigester(salt: salt))
        let early = key("bound-before-indexing")
        bind(table, early)
        table.indexForReplicaChanges(digester)
        let late = key("bound-after-indexing")
        bind(table, late)
        let other = key("someone-else")
        bind(table, other)
        #expect(table.changeDigest(late) == digester.digest(late), "what this replica announces is what the others look up")

        table.evict(digest: digester.digest(late))
        #expect(table.lookup(late, now: 1_800_000_000) == nil)
        #expect(table.lookup(other, now: 1_800_000_000) != nil, "only the named binding goes")
        table.evict(digest: digester.digest(early))
        #expect(table.lookup(early, now: 1_800_000_000) == nil, "rows held before indexing are indexed too")

        // A made-up digest, or one of another deployment, drops nothing.
        table.evict(digest: BindingDigest(bytes: Array(repeating: 9, count: 16))!)
        table.evict(digest: BindingDigester(salt: Array(repeating: 4, count: 32))!.digest(other))
        #expect(table.lookup(other, now: 1_800_000_000) != nil)

        // A binding bound again after it was dropped is found by its digest again.
        bind(table, late)
        table.evict(digest: digester.digest(late))
        #expect(table.lookup(late, now: 1_800_000_000) == nil)
    }

    @Test func withoutTheIndexNothingIsEvictedAndNoDigestIsAnnounced() throws {
        let table = try table()
        let k = key("s1")
        bind(table, k)
        #expect(table.changeDigest(k) == nil)
        table.evict(digest: try #require(BindingDigester(salt: salt)).digest(k))
        #expect(table.lookup(k, now: 1_800_000_000) != nil)
    }

    @Test func reloadingFromTheStoreKeepsTheIndex() async throws {
        let table = try table()
        let digester = try #require(BindingDigester(salt: salt))
        table.indexForReplicaChanges(digester)
        let k = key("persisted")
        bind(table, k)
        guard let row = table.lookup(k, now: 1_800_000_000) else {
            Issue.record("not bound")
            return
        }
        try await table.persist(row)
        try await table.load(replacing: true)
        #expect(table.lookup(k, now: 1_800_000_000) != nil)
        table.evict(digest: digester.digest(k))
        #expect(table.lookup(k, now: 1_800_000_000) == nil, "the re-synced rows are indexed")
    }
}
