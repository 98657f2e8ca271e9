import Crypto
import Foundation
import GatehouseCore
import GatehouseSessions
import Testing

@testable import GatehouseApp

/// The registry of replicas' public assertion keys, seen through `/.gatehouse/jwks.json`: a
/// replica's key stays published while it runs and for a while after it is gone, then leaves;
/// rows that are not usable keys never break the key set. Two replicas on one SQLite file
/// stand in for a shared store (the PostgreSQL tests cover announcements between replicas).
@Suite(.serialized) struct ReplicaKeyRegistryTests {
    static func keys(_ port: Int) async throws -> [JSONValue] {
        let r = try await RawClient(port: port).request("GET", "/.gatehouse/jwks.json")
        #expect(r.status == 200)
        return try #require(r.json?["keys"]?.arrayValue, "\(r.text)")
    }

    static func kids(_ port: Int) async throws -> Set<String> { Set(try await keys(port).compactMap { $0["kid"]?.stringValue }) }

    @Test func aReplicasKeyIsPublishedWhileItLivesAndForAWhileAfterThenWithdrawn() async throws {
        let clock = TestClock()
        try await withHarness({ setup, _, _ in setup.clock = clock.now }) { h in
            let a = h.gatehouse
            let registry = try #require(a.replicaKeys)
            // The documented window: 10 minutes plus 1.5 assertion lifetimes (ttl_seconds 60).
            #expect(registry.keep == 600 + 90)
            let b = try await h.startReplica()
            let bKid = try #require(b.runtime.signer?.signingKeyID)
            try await registry.refresh()
            #expect(try await Self.kids(a.dataPort).contains(bKid), "a live replica's key is published")
            await b.shutdown()

            // Gone, but assertions it handed out may still be valid: its key stays a while.
            clock.advance(685)
            try await registry.register()
            try await registry.refresh()
            #expect(try await Self.kids(a.dataPort).contains(bKid))
            // After that it leaves the key set and the table; this replica's own key stays.
            clock.advance(10)
            try await registry.register()
            try await registry.refresh()
            let after = try await Self.kids(a.dataPort)
            #expect(!after.contains(bKid))
            #expect(after.contains(try #require(a.runtime.signer?.signingKeyID)))
            #expect(try await a.store.replicaKeys(now: 0, limit: 100).map(\.kid) == [a.runtime.signer?.signingKeyID], "the stale row was deleted")
        }
    }

    @Test func rowsThatAreNotUsableKeysAreSkippedAndTheKeySetStillServes() async throws {
        try await withHarness { h in
            let good = P256.Signing.PrivateKey()
            var offCurve = Array(good.publicKey.x963Representation)
            offCurve[64] ^= 1
            let later = Date().timeIntervalSince1970 + 3600
            try await h.gatehouse.store.registerReplicaKeys([
                ReplicaKeyRecord(kid: "1700000000-good", publicKey: Array(good.publicKey.x963Representation), expiresAt: later),
                ReplicaKeyRecord(kid: "1700000000-offcurve", publicKey: offCurve, expiresAt: later),
                ReplicaKeyRecord(kid: "1700000000-short", publicKey: [4, 1, 2, 3], expiresAt: later),
                ReplicaKeyRecord(kid: "bad kid with spaces", publicKey: Array(good.publicKey.x963Representation), expiresAt: later),
                ReplicaKeyRecord(kid: "1700000000-expired", publicKey: Array(good.publicKey.x963Representation), expiresAt: 1000),
            ])
            try await #require(h.gatehouse.replicaKeys).refresh()
            let published = try await Self.keys(h.gatehouse.dataPort)
            let kids = published.compactMap { $0["kid"]?.stringValue }
            #expect(Set(kids) == [try #require(h.gatehouse.runtime.signer?.signingKeyID), "1700000000-good"])
            for key in published {
                #expect(Set(key.objectValue?.keys.map { $0 } ?? []) == ["kty", "crv", "x", "y", "kid", "alg", "use"])
                #expect(key["kty"] == .string("EC") && key["crv"] == .string("P-256") && key["alg"] == .string("ES256"))
            }
        }
    }
}
