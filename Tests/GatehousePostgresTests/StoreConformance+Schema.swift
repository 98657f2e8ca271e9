import GatehouseCore
@testable import GatehouseSessions
import Testing

@testable import GatehousePostgres

extension StoreConformance {
    /// Opening an up-to-date store migrates nothing, and what one store wrote another one sees.
    static func migrationsAreIdempotentAndDataIsShared(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, storage in
            let binding = makeBinding(id: "persisted")
            let flow = makeFlow(sessionID: "flow-1")
            try await store.upsertBinding(binding)
            try await store.insertFlow(flow)
            try await store.appendAudit(audit("before-reopen", tenant: tenantA))
            await store.close()

            let again = try await storage.open()
            let third = try await storage.open()
            #expect(try await storage.schemaVersions() == [PostgresSchema.latestVersion])
            #expect(PostgresSchema.latestVersion == SessionSchema.latestVersion, "both stores are at the same schema")
            #expect(try await again.loadBindings(now: 0) == [binding])
            #expect(try await third.flow(startHandle: flow.startHandle) == flow)
            #expect(try await third.auditEntries(tenant: tenantA, before: nil, limit: 5).map(\.action) == ["before-reopen"])
            #expect(await again.ping())
        }
    }

    /// Replicas starting together on a fresh database: every one migrates or finds it done.
    static func storesMigratingTogetherAllSucceed(_ backend: any StoreBackend) async throws {
        let storage = try await backend.makeStorage()
        do {
            let stores = try await withThrowingTaskGroup(of: (any ClosableStore).self) { group in
                for _ in 0..<4 { group.addTask { try await storage.open() } }
                return try await group.reduce(into: [any ClosableStore]()) { $0.append($1) }
            }
            #expect(stores.count == 4)
            #expect(try await storage.schemaVersions() == [PostgresSchema.latestVersion])
            for (index, store) in stores.enumerated() {
                try await store.upsertBinding(makeBinding(id: "from-\(index)"))
            }
            #expect(try await stores[0].loadBindings(now: 0).count == 4)
        } catch {
            await storage.destroy()
            throw error
        }
        await storage.destroy()
    }

    static func aNewerSchemaIsRefused(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, storage in
            try await store.upsertBinding(makeBinding(id: "kept"))
            await store.close()
            try await storage.setSchemaVersion(99)
            await #expect(throws: SessionStoreError.unsupportedSchemaVersion(99)) { _ = try await storage.open() }
            #expect(try await storage.schemaVersions() == [99], "a refused database is left as it was")
        }
    }

    static func aClosedStoreRefusesWork(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            #expect(await store.ping())
            await store.close()
            await store.close()  // idempotent
            #expect(await store.ping() == false)
            await #expect(throws: SessionStoreError.closed) { try await store.loadBindings(now: 0) }
            await #expect(throws: SessionStoreError.closed) { try await store.upsertBinding(makeBinding(id: "late")) }
            await #expect(throws: SessionStoreError.closed) { try await store.appendAudit(audit("late", tenant: tenantA)) }
        }
    }
}
