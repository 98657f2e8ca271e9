import GatehouseCore
import GatehouseSessions
import Testing

extension StoreConformance {
    static func flowRoundTripAndLookups(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let inA = makeFlow(tenant: tenantA, sessionID: "elicit-1", startHandle: "handle-a")
            let inB = makeFlow(tenant: tenantB, sessionID: "elicit-1", startHandle: "handle-b", clientID: nil)
            try await store.insertFlow(inA)
            try await store.insertFlow(inB)

            #expect(try await store.flow(tenant: tenantA, sessionID: "elicit-1") == inA)
            #expect(try await store.flow(tenant: tenantB, sessionID: "elicit-1") == inB)
            #expect(try await store.flow(tenant: tenantA, sessionID: "other") == nil)
            #expect(try await store.flow(startHandle: "handle-b") == inB)
            #expect(try await store.flow(startHandle: "nope") == nil)
            #expect(try await store.flows(sessionID: "elicit-1") == [inA, inB])
            #expect(try await store.flows(sessionID: "none").isEmpty)

            try await store.setFlowCookie(tenant: tenantA, sessionID: "elicit-1", startHandle: "handle-a", cookieHash: "ab12")
            #expect(try await store.flow(tenant: tenantA, sessionID: "elicit-1")?.cookieHash == "ab12")
            #expect(try await store.flow(tenant: tenantB, sessionID: "elicit-1")?.cookieHash == nil)
            await #expect(throws: SessionStoreError.flowNotFound) {
                try await store.setFlowCookie(tenant: tenantA, sessionID: "missing", startHandle: "handle-a", cookieHash: "x")
            }
            // Expired flows are still returned: the store does not know "now" for lookups.
            let old = makeFlow(sessionID: "expired", createdAt: 0, expiresAt: 100)
            try await store.insertFlow(old)
            #expect(try await store.flow(tenant: tenantA, sessionID: "expired") == old)
        }
    }

    static func aLiveFlowIsNeverReplacedButAFinishedOneIs(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let first = makeFlow(sessionID: "s", startHandle: "h1", createdAt: 1000, expiresAt: 2000)
            try await store.insertFlow(first)

            let thief = makeFlow(sessionID: "s", startHandle: "h2", subject: "mallory", createdAt: 1500, expiresAt: 2500)
            await #expect(throws: SessionStoreError.flowExists) { try await store.insertFlow(thief) }
            #expect(try await store.flow(tenant: tenantA, sessionID: "s") == first)
            #expect(try await store.flow(startHandle: "h2") == nil)  // the failed insert left nothing

            // Another key reusing a start handle is refused too, and leaves nothing behind.
            await #expect(throws: SessionStoreError.startHandleInUse) {
                try await store.insertFlow(makeFlow(sessionID: "other", startHandle: "h1", createdAt: 1500))
            }
            #expect(try await store.flow(tenant: tenantA, sessionID: "other") == nil)

            // Expired (as of the new flow's creation): replaced.
            let afterExpiry = makeFlow(sessionID: "s", startHandle: "h3", createdAt: 2000, expiresAt: 3000)
            try await store.insertFlow(afterExpiry)
            #expect(try await store.flow(tenant: tenantA, sessionID: "s") == afterExpiry)

            // Completed: replaced.
            #expect(try await store.completeFlow(tenant: tenantA, sessionID: "s", startHandle: "h3", now: 2100))
            let afterCompletion = makeFlow(sessionID: "s", startHandle: "h4", createdAt: 2200, expiresAt: 3200)
            try await store.insertFlow(afterCompletion)
            #expect(try await store.flow(tenant: tenantA, sessionID: "s") == afterCompletion)
            #expect(try await store.flow(startHandle: "h3") == nil)

            // A replacement that fails (its start handle is taken) keeps the finished flow.
            #expect(try await store.completeFlow(tenant: tenantA, sessionID: "s", startHandle: "h4", now: 2300))
            try await store.insertFlow(makeFlow(sessionID: "taken", startHandle: "h5", createdAt: 2300))
            await #expect(throws: SessionStoreError.startHandleInUse) {
                try await store.insertFlow(makeFlow(sessionID: "s", startHandle: "h5", createdAt: 2400, expiresAt: 3400))
            }
            #expect(try await store.flow(tenant: tenantA, sessionID: "s")?.startHandle == "h4")
        }
    }

    static func racingInsertsOfOneFlowLetOneWin(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, storage in
            let second = try await storage.open()
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for caller in 0..<10 {
                    let target = caller.isMultiple(of: 2) ? store : second
                    group.addTask {
                        let flow = makeFlow(sessionID: "contested", startHandle: "h-\(caller)", subject: "caller-\(caller)")
                        do {
                            try await target.insertFlow(flow)
                            return true
                        } catch {
                            #expect(error as? SessionStoreError == .flowExists)
                            return false
                        }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            let winner = try #require(try await store.flow(tenant: tenantA, sessionID: "contested"))
            #expect(try await second.flow(startHandle: winner.startHandle) == winner)
        }
    }

    static func cookieAndCompletionReachOnlyTheFlowWithTheirStartHandle(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            try await store.insertFlow(makeFlow(sessionID: "s", startHandle: "h-alice", createdAt: 1000, expiresAt: 2000))
            // Alice's flow expired and Mallory registered the same id before Alice's start or callback wrote.
            let mallorys = makeFlow(sessionID: "s", startHandle: "h-mallory", subject: "mallory", createdAt: 2000, expiresAt: 3000)
            try await store.insertFlow(mallorys)
            await #expect(throws: SessionStoreError.flowNotFound) {
                try await store.setFlowCookie(tenant: tenantA, sessionID: "s", startHandle: "h-alice", cookieHash: "alices-browser")
            }
            #expect(try await store.completeFlow(tenant: tenantA, sessionID: "s", startHandle: "h-alice", now: 1999) == false)
            #expect(try await store.flow(tenant: tenantA, sessionID: "s") == mallorys)

            try await store.setFlowCookie(tenant: tenantA, sessionID: "s", startHandle: "h-mallory", cookieHash: "m")
            #expect(try await store.completeFlow(tenant: tenantA, sessionID: "s", startHandle: "h-mallory", now: 2500))
        }
    }

    static func completeFlowOnceAndErasesTheToken(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, storage in
            try await store.insertFlow(makeFlow(sessionID: "s", createdAt: 1000, expiresAt: 2000))

            #expect(try await store.completeFlow(tenant: tenantA, sessionID: "s", startHandle: "handle-acme-s", now: 1500))
            #expect(try await store.completeFlow(tenant: tenantA, sessionID: "s", startHandle: "handle-acme-s", now: 1501) == false)
            let done = try #require(try await store.flow(tenant: tenantA, sessionID: "s"))
            #expect(done.completedAt == 1500)
            #expect(done.sealedUserToken.isEmpty)
            // Erased in the table itself, not only hidden by the store.
            #expect(try await storage.count("SELECT count(*) FROM oauth_flows WHERE sealed_token IS NULL") == 1)
            #expect(try await storage.count("SELECT count(*) FROM oauth_flows") == 1)

            // Unknown, other-tenant and expired flows never complete.
            #expect(try await store.completeFlow(tenant: tenantA, sessionID: "unknown", startHandle: "handle-acme-unknown", now: 1500) == false)
            #expect(try await store.completeFlow(tenant: tenantB, sessionID: "s", startHandle: "handle-acme-s", now: 1500) == false)
            try await store.insertFlow(makeFlow(sessionID: "late", startHandle: "h-late", createdAt: 1000, expiresAt: 2000))
            #expect(try await store.completeFlow(tenant: tenantA, sessionID: "late", startHandle: "h-late", now: 2000) == false)
            #expect(try await store.flow(tenant: tenantA, sessionID: "late")?.sealedUserToken == tokenBytes)
        }
    }

    /// Twenty callbacks at once, through two stores on the same storage (two replicas): one wins.
    static func twentyConcurrentCallersCompleteAFlowOnce(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, storage in
            let second = try await storage.open()
            try await store.insertFlow(makeFlow(sessionID: "race", createdAt: 1000, expiresAt: 2000))
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for caller in 0..<20 {
                    let target = caller.isMultiple(of: 2) ? store : second
                    group.addTask {
                        try await target.completeFlow(
                            tenant: tenantA, sessionID: "race", startHandle: "handle-acme-race", now: 1500 + Double(caller))
                    }
                }
                var wins = 0
                for try await won in group where won { wins += 1 }
                return wins
            }
            #expect(wins == 1)
            let done = try #require(try await second.flow(tenant: tenantA, sessionID: "race"))
            #expect(done.sealedUserToken == [])
            #expect(done.completedAt.map { (1500.0..<1520.0).contains($0) } == true)
        }
    }

    static func flowsAreDeletedBySessionIDAndBySubject(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            try await store.insertFlow(makeFlow(tenant: tenantA, sessionID: "one", startHandle: "h1"))
            try await store.insertFlow(makeFlow(tenant: tenantB, sessionID: "one", startHandle: "h2"))
            #expect(try await store.deleteFlows(tenant: tenantA, sessionID: "one") == 1)
            #expect(try await store.deleteFlows(tenant: tenantA, sessionID: "one") == 0)
            #expect(try await store.flows(sessionID: "one").map(\.tenant) == [tenantB], "the other tenant's flow stays")

            try await store.insertFlow(makeFlow(sessionID: "a1", startHandle: "a1", subject: "alice"))
            try await store.insertFlow(makeFlow(sessionID: "a2", startHandle: "a2", subject: "alice", issuer: "https://other-idp.example/"))
            try await store.insertFlow(makeFlow(sessionID: "b1", startHandle: "b1", subject: "bob"))
            try await store.insertFlow(makeFlow(tenant: tenantB, sessionID: "a3", startHandle: "a3", subject: "alice"))
            #expect(try await store.deleteFlows(tenant: tenantA, subject: "alice", issuer: "https://other-idp.example/") == 1)
            #expect(try await store.flow(tenant: tenantA, sessionID: "a1") != nil)
            try await store.insertFlow(makeFlow(sessionID: "a2", startHandle: "a2b", subject: "alice", issuer: "https://other-idp.example/"))
            #expect(try await store.deleteFlows(tenant: tenantA, subject: "alice", issuer: nil) == 2)
            #expect(try await store.deleteFlows(tenant: tenantA, subject: "alice", issuer: nil) == 0)
            #expect(try await store.flow(tenant: tenantA, sessionID: "b1") != nil)
            #expect(try await store.flow(tenant: tenantB, sessionID: "a3") != nil, "another tenant's alice is someone else")
        }
    }

    static func expiredFlowsAreDeletedWithTheirTokens(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, storage in
            try await store.insertFlow(makeFlow(sessionID: "old", startHandle: "h1", createdAt: 0, expiresAt: 100))
            try await store.insertFlow(makeFlow(sessionID: "done", startHandle: "h2", createdAt: 0, expiresAt: 300))
            try await store.insertFlow(makeFlow(sessionID: "new", startHandle: "h3", createdAt: 0, expiresAt: 300))
            #expect(try await store.completeFlow(tenant: tenantA, sessionID: "done", startHandle: "h2", now: 50))

            #expect(try await store.deleteExpiredFlows(now: 100) == 1)
            // The expired one is gone entirely; the completed one stays (so a second callback
            // still sees it completed) until it expires too.
            #expect(try await store.flow(tenant: tenantA, sessionID: "old") == nil)
            #expect(try await store.flow(startHandle: "h1") == nil)
            #expect(try await store.flow(tenant: tenantA, sessionID: "done")?.completedAt == 50)
            #expect(try await store.deleteExpiredFlows(now: 300) == 2)
            #expect(try await store.deleteExpiredFlows(now: 300) == 0)
            #expect(try await store.flows(sessionID: "new").isEmpty)
            #expect(try await storage.count("SELECT count(*) FROM oauth_flows") == 0, "no row is left behind")
        }
    }
}
