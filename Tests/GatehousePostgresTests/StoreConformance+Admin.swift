import GatehouseCore
import GatehouseSessions
import Testing

extension StoreConformance {
    static func registeredIdPsArePutReplacedAndDeletedWithTheirAuditEntries(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let record = RegisteredIdPRecord(tenant: tenantA, name: "partner", document: #"{"issuer":"https://a"}"#, createdAt: 10, updatedAt: 10)
            try await store.putRegisteredIdP(record, audit: audit("idp.put", tenant: tenantA))
            let other = RegisteredIdPRecord(tenant: tenantB, name: "partner", document: #"{"issuer":"https://g"}"#, createdAt: 11, updatedAt: 11)
            try await store.putRegisteredIdP(other, audit: audit("idp.put", tenant: tenantB))
            var replacement = record
            replacement.document = #"{"issuer":"https://b"}"#
            replacement.createdAt = 20
            replacement.updatedAt = 20
            try await store.putRegisteredIdP(replacement, audit: audit("idp.put", tenant: tenantA))
            let stored = try await store.registeredIdPs()
            #expect(stored.map(\.tenant) == [tenantA, tenantB], "one row per (tenant, name), ordered by tenant")
            #expect(stored.first?.document == replacement.document)
            #expect(stored.first?.createdAt == 10, "a replacement keeps the first creation time")
            #expect(stored.first?.updatedAt == 20)

            #expect(try await store.deleteRegisteredIdP(tenant: tenantA, name: "nope", audit: audit("idp.delete", tenant: tenantA)) == false)
            let initech = TenantID("initech")!  // has no "partner": another tenant's is out of its reach
            #expect(try await store.deleteRegisteredIdP(tenant: initech, name: "partner", audit: audit("idp.delete", tenant: initech)) == false)
            #expect(try await store.auditEntries(tenant: initech, before: nil, limit: 10).isEmpty)
            #expect(try await store.deleteRegisteredIdP(tenant: tenantA, name: "partner", audit: audit("idp.delete", tenant: tenantA)))
            #expect(try await store.deleteRegisteredIdP(tenant: tenantA, name: "partner", audit: audit("idp.delete", tenant: tenantA)) == false)
            #expect(try await store.registeredIdPs() == [other])
            let actions = try await store.auditEntries(tenant: tenantA, before: nil, limit: 10).map(\.action)
            #expect(actions == ["idp.delete", "idp.put", "idp.put"], "newest first; no entry for the deletes that found nothing")
            #expect(try await store.auditEntries(tenant: tenantB, before: nil, limit: 10).map(\.action) == ["idp.put"])
        }
    }

    static func keysAreRevokedOnceAndOnlyInTheirTenant(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let key = AdminKeyRecord(id: "0123456789abcdef", tenant: tenantA, name: "ci", secretHash: String(repeating: "f", count: 64), createdAt: 5)
            let unnamed = AdminKeyRecord(id: "fedcba9876543210", tenant: tenantA, name: nil, secretHash: String(repeating: "e", count: 64), createdAt: 6)
            try await store.insertAdminKey(key, audit: audit("key.create", tenant: tenantA))
            try await store.insertAdminKey(unnamed, audit: audit("key.create", tenant: tenantA))
            #expect(try await store.adminKey(id: key.id) == key)
            #expect(try await store.adminKey(id: "missing") == nil)
            #expect(try await store.adminKeys(tenant: tenantA) == [key, unnamed], "oldest first")
            #expect(try await store.adminKeys(tenant: tenantB).isEmpty)
            #expect(try await store.revokeAdminKey(tenant: tenantB, id: key.id, now: 6, audit: audit("key.revoke", tenant: tenantB)) == false)
            #expect(try await store.revokeAdminKey(tenant: tenantA, id: key.id, now: 7, audit: audit("key.revoke", tenant: tenantA)))
            #expect(try await store.revokeAdminKey(tenant: tenantA, id: key.id, now: 8, audit: audit("key.revoke", tenant: tenantA)) == false)
            #expect(try await store.adminKey(id: key.id)?.revokedAt == 7)
            #expect(try await store.adminKey(id: unnamed.id)?.revokedAt == nil)
            // A second key with the same id is refused, and its audit entry rolls back with it.
            await #expect(throws: (any Error).self) {
                try await store.insertAdminKey(key, audit: audit("key.create", tenant: tenantA, actor: "dup"))
            }
            let entries = try await store.auditEntries(tenant: nil, before: nil, limit: 10)
            #expect(entries.map(\.action) == ["key.revoke", "key.create", "key.create"])
            #expect(!entries.contains { $0.actor == "dup" })
            #expect(try await store.adminKey(id: key.id)?.revokedAt == 7, "the refused insert changed nothing")
        }
    }

    static func auditPagesGoBackwardsBySequence(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            for i in 0..<5 { try await store.appendAudit(audit("a\(i)", tenant: i == 2 ? nil : tenantA)) }
            try await store.appendAudit(AuditEntry(
                tenant: tenantB, time: 2000.5, actor: "key-1", action: "b0", target: "idp/x", outcome: "conflict", detail: "why"))
            let first = try await store.auditEntries(tenant: tenantA, before: nil, limit: 2)
            #expect(first.map(\.action) == ["a4", "a3"])
            let second = try await store.auditEntries(tenant: tenantA, before: first.last?.sequence, limit: 2)
            #expect(second.map(\.action) == ["a1", "a0"], "the global entry (no tenant) is not the tenant's")
            #expect(try await store.auditEntries(tenant: tenantA, before: second.last?.sequence, limit: 2).isEmpty)
            let all = try await store.auditEntries(tenant: nil, before: nil, limit: 10)
            #expect(all.map(\.action) == ["b0", "a4", "a3", "a2", "a1", "a0"])
            #expect(all.map(\.sequence) == all.map(\.sequence).sorted(by: >))
            #expect(Set(all.map(\.sequence)).count == 6 && all.allSatisfy { $0.sequence > 0 })
            #expect(all.first == AuditEntry(
                sequence: all.first!.sequence, tenant: tenantB, time: 2000.5, actor: "key-1", action: "b0", target: "idp/x",
                outcome: "conflict", detail: "why"))
            #expect(all.first { $0.action == "a2" }?.tenant == nil)
            #expect(try await store.auditEntries(tenant: nil, before: nil, limit: 0).count == 1, "a limit below 1 means 1")
        }
    }
}
