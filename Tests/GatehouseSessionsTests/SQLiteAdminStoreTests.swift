import Foundation
import GatehouseCore
import Testing

@testable import GatehouseSessions

/// A schema-1 SQLite file (the first release) is brought to the current schema without losing
/// its bindings. The admin tables' behaviour on every store is the conformance suite's.
@Suite struct SQLiteAdminStoreTests {
    let acme = TenantID("acme")!

    func audit(_ action: String, tenant: TenantID?, actor: String = "operator") -> AuditEntry {
        AuditEntry(tenant: tenant, time: 1000, actor: actor, action: action, target: "t", outcome: "ok")
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
