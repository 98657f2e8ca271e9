import Foundation
import GatehouseCore
import GatehouseSessions
import NIOPosix
import Synchronization
import Testing

@testable import GatehousePostgres

/// docs/store-and-replicas.md "When the database goes away" under a fault: the database goes away under load and comes back. Requests that need
/// no store write keep flowing from memory; those that do get a clear 503; every binding that
/// was acknowledged (200) is in the database afterwards; readiness follows; and the replica
/// recovers by itself, without a restart.
@Suite(
    .serialized,
    .enabled(if: PostgresTestServer.url != nil, "GATEHOUSE_TEST_POSTGRES_URL is not set (scripts/test starts a server and sets it)"))
struct PostgresFaultTests {
    struct Outcome: Sendable {
        var sessionID: String?
        var status: Int
        var phase: Int
    }

    final class Load: Sendable {
        /// 0: database up, 1: cut, 2: restored.
        let phase = Mutex(0)
        let stop = Mutex(false)
        let outcomes = Mutex<[Outcome]>([])
    }

    @Test func theDatabaseGoingAwayAndComingBackUnderLoad() async throws {
        try await PostgresTestServer.withDatabase(prefix: "gh_fault_") { direct in
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            var viaForwarder = try PostgresURL(parsing: direct)
            let forwarder = TCPForwarder(group: group, targetHost: viaForwarder.host, targetPort: viaForwarder.port)
            try await forwarder.start()
            viaForwarder.port = forwarder.port
            let storeURL = viaForwarder.connectionString

            try await withHarness({ setup, _, _ in setup.settings.store = .postgres(url: storeURL) }) { h in
                let alice = h.bearer(h.token("alice"))
                let admin = RawClient(port: h.gatehouse.adminPort)
                let load = Load()
                let client = h.client

                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    for worker in 0..<3 {
                        tasks.addTask {
                            var i = 0
                            while !load.stop.withLock({ $0 }) {
                                i += 1
                                let p = load.phase.withLock { $0 }
                                // A new client-issued session (needs a store write), then a plain request (memory only).
                                let id = "fault-\(worker)-\(i)"
                                // -1: no answer at all (a transport failure), which must not happen.
                                let bound = (try? await client.request("POST", "/t/acme/invocations", headers: [alice, (Self.runtime, id)], body: "{}"))?.status ?? -1
                                let plain = (try? await client.request("GET", "/t/acme/x", headers: [alice]))?.status ?? -1
                                load.outcomes.withLock {
                                    $0.append(Outcome(sessionID: id, status: bound, phase: p))
                                    $0.append(Outcome(sessionID: nil, status: plain, phase: p))
                                }
                            }
                        }
                    }
                    func sessionStatuses(_ p: Int) -> [Int] { load.outcomes.withLock { $0.filter { $0.phase == p && $0.sessionID != nil }.map(\.status) } }

                    #expect(await eventually(within: 10) { sessionStatuses(0).filter { $0 == 200 }.count >= 20 }, "bindings are made while the database is up")
                    await forwarder.cut()
                    load.phase.withLock { $0 = 1 }
                    #expect(await eventually(within: 15) { sessionStatuses(1).contains(503) }, "a request that needs a write gets 503")
                    #expect(await eventually(within: 5) { (try? await admin.request("GET", "/readyz").status) == 503 }, "not ready while the database is away")
                    try await forwarder.start()
                    load.phase.withLock { $0 = 2 }
                    #expect(await eventually(within: 20) { sessionStatuses(2).filter { $0 == 200 }.count >= 5 }, "recovers without a restart")
                    #expect(await eventually(within: 5) { (try? await admin.request("GET", "/readyz").status) == 200 })
                    load.stop.withLock { $0 = true }
                    try await tasks.waitForAll()
                }

                let all = load.outcomes.withLock { $0 }
                let plain = all.filter { $0.sessionID == nil }
                #expect(plain.allSatisfy { $0.status == 200 }, "requests needing no write kept flowing: \(Set(plain.map(\.status)))")
                #expect(plain.filter { $0.phase == 1 }.count > 0)
                let bound = all.filter { $0.sessionID != nil }
                #expect(bound.allSatisfy { $0.status == 200 || $0.status == 503 }, "only 200 or a clear 503: \(Set(bound.map(\.status)))")

                // Every acknowledged binding is in the database (read directly, not through the forwarder).
                let store = try PostgresStore(url: try PostgresURL(parsing: direct), logger: .init(label: "check"))
                let now = Date().timeIntervalSince1970
                var missing: [String] = []
                for outcome in bound where outcome.status == 200 {
                    let key = SessionKey(tenant: TenantID("acme")!, header: Self.runtime, id: outcome.sessionID!)
                    if try await store.binding(key, now: now) == nil { missing.append(outcome.sessionID!) }
                }
                await store.close()
                #expect(missing.isEmpty, "acknowledged bindings lost: \(missing)")
                #expect(bound.filter { $0.status == 200 }.count >= 25)

                // And the replica still enforces them: bob cannot use one alice was acknowledged.
                let first = try #require(bound.first { $0.status == 200 }?.sessionID)
                let bob = try await h.client.request("POST", "/t/acme/invocations", headers: [h.bearer(h.token("bob")), (Self.runtime, first)], body: "{}")
                #expect(bob.status == 403)
            }
            await forwarder.cut()
            try await group.shutdownGracefully()
        }
    }

    static let runtime = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
}
