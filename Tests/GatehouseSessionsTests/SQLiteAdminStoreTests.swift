import Foundation
import GatehouseCore
import Testing

@testable import GatehouseSessions

/// The admin API's tables on a real SQLite file: each mutation and its audit entry commit
/// together, and a schema-1 file is brought to schema 2 without losing its bindings.
@Suite struct SQLiteAdminStoreTests {
    let acme = TenantID("acme")!
    let globex = TenantID("globex")!

    func audit(_ action: String, tenant: TenantID?, actor: String = "operator") -> AuditEntry {
        AuditEntry(tenant: tenant, time: 1000, actor: actor, action: action, target: "t", outcome: "ok")
    }

    @Test func registeredIdPsAreStoredReplacedAndDeletedWithTheirAuditEntries() async throws {
        let dir = try StoreDirectory()
        let store = try dir.store()
        let record = RegisteredIdPRecord(tenant: acme, name: "partner", document: #"{"issuer":"https://a"}"#, createdAt: 10, updatedAt: 10)
        try await store.putRegisteredIdP(record, audit: audit("idp.put", tenant: acme))
        var replacement = record
        replacement.document = #"{"issuer":"https://b"}"#
        replacement.createdAt = 20
        replacement.updatedAt = 20
        try await store.putRegisteredIdP(replacement, audit: audit("idp.put", tenant: acme))
        let stored = try await store.registeredIdPs()
        #expect(stored.count == 1)
        #expect(stored.first?.document == replacement.document)
        #expect(stored.first?.createdAt == 10, "a replacement keeps the first creation time")
        #expect(stored.first?.updatedAt == 20)

        #expect(try await store.deleteRegisteredIdP(tenant: globex, name: "partner", audit: audit("idp.delete", tenant: globex)) == false)
        #expect(try await store.deleteRegisteredIdP(tenant: acme, name: "partner", audit: audit("idp.delete", tenant: acme)))
        #expect(try await store.registeredIdPs().isEmpty)
        let actions = try await store.auditEntries(tenant: acme, before: nil, limit: 10).map(\.action)
        #expect(actions == ["idp.delete", "idp.put", "idp.put"], "newest first; no entry for the delete that found nothing")
        #expect(try await store.auditEntries(tenant: globex, before: nil, limit: 10).isEmpty)
    }

    @Test func keysAreRevokedOnceAndOnlyInTheirTenant() async throws {
        let dir = try StoreDirectory()
        let store = try dir.store()
        let key = AdminKeyRecord(id: "0123456789abcdef", tenant: acme, name: "ci", secretHash: String(repeating: "f", count: 64), createdAt: 5)
        try await store.insertAdminKey(key, audit: audit("key.create", tenant: acme))
        #expect(try await store.adminKey(id: key.id) == key)
        #expect(try await store.adminKeys(tenant: acme) == [key])
        #expect(try await store.adminKeys(tenant: globex).isEmpty)
        #expect(try await store.revokeAdminKey(tenant: globex, id: key.id, now: 6, audit: audit("key.revoke", tenant: globex)) == false)
        #expect(try await store.revokeAdminKey(tenant: acme, id: key.id, now: 7, audit: audit("key.revoke", tenant: acme)))
        #expect(try await store.revokeAdminKey(tenant: acme, id: key.id, now: 8, audit: audit("key.revoke", tenant: acme)) == false)
        #expect(try await store.adminKey(id: key.id)?.revokedAt == 7)
        // A second key with the same id is refused, and its audit entry rolls back with it.
        await #expect(throws: (any Error).self) { try await store.insertAdminKey(key, audit: audit("key.create", tenant: acme, actor: "dup")) }
        let entries = try await store.auditEntries(tenant: nil, before: nil, limit: 10)
        #expect(entries.map(\.action) == ["key.revoke", "key.create"])
        #expect(!entries.contains { $0.actor == "dup" })
    }

    @Test func auditPagesGoBackwardsBySequence() async throws {
        let dir = try StoreDirectory()
        let store = try dir.store()
        for i in 0..<5 { try await store.appendAudit(audit("a\(i)", tenant: i == 2 ? nil : acme)) }
        let first = try await store.auditEntries(tenant: acme, before: nil, limit: 2)
        #expect(first.map(\.action) == ["a4", "a3"])
        let second = try await store.auditEntries(tenant: acme, before: first.last?.sequence, limit: 2)
        #expect(second.map(\.action) == ["a1", "a0"], "the global entry (no tenant) is not the tenant's")
        #expect(try await store.auditEntries(tenant: nil, before: nil, limit: 10).count == 5)
    }

    @Test func aSchemaOneFileIsMigratedAndKeepsItsBindings() async throws {
        let dir = try StoreDirectory()
        let path = dir.path + "/old.db"
        // Build a file exactly as the first release did: schema 1 only.
        let db = try SQLiteDatabase(path: path)
        try db.exec("CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)")
        for statement in SessionSchema.migrations[0].statements { try db.exec(statement) }
        try db.execute("INSERT INTO schema_version (id, version) VALUES (1, 1)")
        try db.execute(
            """
            INSERT INTO session_bindings VALUES ('acme', 'mcp-session-id', 's1', 'https://i', 'alice', NULL, NULL, 'server', 1, 1, 1e12)
            """)
        db.close()

        let store = try SQLiteSessionStore(path: path, logger: quietLogger)
        #expect(try await store.loadBindings(now: 0).map(\.key.id) == ["s1"])
        try await store.appendAudit(audit("after-migration", tenant: acme))
        #expect(try await store.auditEntries(tenant: acme, before: nil, limit: 1).first?.action == "after-migration")
        let version = try await store.perform { db in try db.query("SELECT version FROM schema_version") { try $0.int64(0) } }
        #expect(version == [SessionSchema.latestVersion])
        await store.close()
    }
}
