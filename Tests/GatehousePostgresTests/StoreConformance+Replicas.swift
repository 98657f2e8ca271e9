import GatehouseCore
import GatehouseSessions
import Testing

/// `ReplicaStore`: the replicas' public assertion keys and the values the first replica settles.
extension StoreConformance {
    static func key(_ kid: String, _ fill: UInt8, expiresAt: Double) -> ReplicaKeyRecord {
        ReplicaKeyRecord(kid: kid, publicKey: [0x04] + Array(repeating: fill, count: 64), expiresAt: expiresAt)
    }

    static func replicaKeysAreRegisteredExtendedAndNeverShortened(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, storage in
            let other = try await storage.open()  // another replica on the same store
            try await store.registerReplicaKeys([key("1700000000-a", 1, expiresAt: 2000), key("1700000001-b", 2, expiresAt: 3000)])
            try await other.registerReplicaKeys([key("1700000002-c", 3, expiresAt: 2500)])
            #expect(try await other.replicaKeys(now: 1000, limit: 10).map(\.kid) == ["1700000001-b", "1700000002-c", "1700000000-a"], "longest-lived first")
            #expect(try await store.replicaKeys(now: 1000, limit: 10).first == key("1700000001-b", 2, expiresAt: 3000), "bytes round-trip")

            // A heartbeat moves the time forward; a late, older heartbeat never moves it back.
            try await store.registerReplicaKeys([key("1700000000-a", 1, expiresAt: 4000)])
            try await store.registerReplicaKeys([key("1700000000-a", 1, expiresAt: 1500)])
            #expect(try await other.replicaKeys(now: 1000, limit: 10).first == key("1700000000-a", 1, expiresAt: 4000))
            try await store.registerReplicaKeys([])
            #expect(try await store.replicaKeys(now: 1000, limit: 10).count == 3)
            #expect(try await storage.count("SELECT count(*) FROM replica_keys") == 3)
        }
    }

    static func aReplicaCannotReplaceAnothersKey(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            try await store.registerReplicaKeys([key("1700000000-a", 1, expiresAt: 2000)])
            try await store.registerReplicaKeys([key("1700000000-a", 9, expiresAt: 9000)])
            #expect(try await store.replicaKeys(now: 0, limit: 10) == [key("1700000000-a", 1, expiresAt: 2000)], "same kid, other bytes: ignored")
        }
    }

    static func expiredReplicaKeysAreNotListedAndAreDeleted(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, storage in
            try await store.registerReplicaKeys([key("gone", 1, expiresAt: 1000), key("ends-now", 2, expiresAt: 2000), key("live", 3, expiresAt: 3000)])
            #expect(try await store.replicaKeys(now: 2000, limit: 10).map(\.kid) == ["live"], "a key is live while expiresAt > now")
            #expect(try await store.deleteExpiredReplicaKeys(now: 2000) == 2)
            #expect(try await store.deleteExpiredReplicaKeys(now: 2000) == 0)
            #expect(try await storage.count("SELECT count(*) FROM replica_keys") == 1)
            #expect(try await store.replicaKeys(now: 0, limit: 10).map(\.kid) == ["live"])
        }
    }

    static func replicaKeysAreReadWithinTheLimit(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            try await store.registerReplicaKeys((0..<20).map { key("k\($0)", UInt8($0), expiresAt: 1000 + Double($0)) })
            #expect(try await store.replicaKeys(now: 0, limit: 5).map(\.kid) == ["k19", "k18", "k17", "k16", "k15"])
            #expect(try await store.replicaKeys(now: 0, limit: 0).count == 1, "a limit below 1 means 1")
        }
    }

    static func replicasAreCountedWhileTheirHeartbeatHoldsThemLive(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, storage in
            let other = try await storage.open()
            #expect(try await store.announceReplica("a", until: 1006, now: 1000) == 1)
            #expect(try await other.announceReplica("b", until: 1007, now: 1001) == 2, "each counts the other")
            #expect(try await store.announceReplica("a", until: 1008, now: 1002) == 2, "a heartbeat does not count a replica twice")
            // b stops beating: counted out once its time is up, and its row deleted.
            #expect(try await store.announceReplica("a", until: 1013, now: 1007) == 1)
            #expect(try await storage.count("SELECT count(*) FROM replica_presence") == 1)
            // c comes, then leaves cleanly: counted out at once.
            #expect(try await other.announceReplica("c", until: 1014, now: 1008) == 2)
            try await other.withdrawReplica("c")
            try await other.withdrawReplica("never-there")
            #expect(try await store.announceReplica("a", until: 1015, now: 1009) == 1)
        }
    }

    static func theFirstSettledValueStaysForEveryone(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, storage in
            let other = try await storage.open()
            #expect(try await store.settledValue("check", proposing: [1, 2, 3]) == [1, 2, 3])
            #expect(try await other.settledValue("check", proposing: [9, 9]) == [1, 2, 3], "a later proposal gets the first value")
            #expect(try await other.settledValue("salt", proposing: [7]) == [7], "names are independent")
            await store.close()
            let reopened = try await storage.open()
            #expect(try await reopened.settledValue("check", proposing: [4]) == [1, 2, 3], "it survives restarts")
        }
    }

    /// Replicas starting together on a fresh store all settle on one value.
    static func replicasProposingTogetherSettleOnOneValue(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, storage in
            let stores: [any ClosableStore] = [store, try await storage.open(), try await storage.open()]
            let values = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                for caller in 0..<12 {
                    let target = stores[caller % stores.count]
                    group.addTask { try await target.settledValue("race", proposing: [UInt8(caller)] + Array(repeating: 0, count: 31)) }
                }
                return try await group.reduce(into: [[UInt8]]()) { $0.append($1) }
            }
            #expect(values.count == 12)
            #expect(Set(values).count == 1, "one value for all")
            #expect(try await storage.count("SELECT count(*) FROM settled_values") == 1)
        }
    }
}
