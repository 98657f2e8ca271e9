import Foundation
import GatehouseApp
import GatehouseCore
import GatehouseDemo
import GatehouseHTTP
import NIOHTTP1
import Testing

@testable import GatehousePostgres

/// From outside: two Gatehouse replicas on one PostgreSQL database, each with a state folder of
/// its own (`Harness.startReplica`), share the session bindings, so a session bound through one
/// is enforced by the other — whether the other started after the binding (it loads it) or was
/// running already (it asks the store, and changes are announced with LISTEN/NOTIFY);
/// registered IdPs and admin keys follow within 1 s.
@Suite(
    .serialized,
    .enabled(if: PostgresTestServer.url != nil, "GATEHOUSE_TEST_POSTGRES_URL is not set (scripts/test starts a server and sets it)"))
struct PostgresReplicaTests {
    static let mcp = "Mcp-Session-Id"
    static let runtime = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"

    @Test func aSessionBoundThroughOneReplicaIsEnforcedByAnother() async throws {
        try await PostgresTestServer.withDatabase(prefix: "gh_replicas_") { url in
            try await withHarness({ setup, _, _ in setup.settings.store = .postgres(url: url) }) { h in
                #expect(h.gatehouse.store is PostgresStore)
                let alice = h.bearer(h.token("alice"))
                let bob = h.bearer(h.token("bob"))
                // Replica A binds a client-issued session to alice, and a server-issued one.
                let claimed = try await h.client.request("POST", "/t/acme/invocations", headers: [alice, (Self.runtime, "shared-runtime-0001")], body: "{}")
                #expect(claimed.status == 200)
                for agent in h.acme { agent.setResponseHeaders(HTTPHeaders([(Self.mcp, "shared-mcp-1")])) }
                let opened = try await h.client.request("POST", "/t/acme/mcp", headers: [alice], body: "{}")
                for agent in h.acme { agent.setResponseHeaders([:]) }
                #expect(opened.status == 200)
                let home = try #require(h.acme.first { $0.received().contains { $0.uri.hasSuffix("/mcp") } })

                // Replica B starts after that, on the same database: it knows both sessions.
                let b = try await h.startReplica()
                do {
                    let onB = RawClient(port: b.dataPort)
                    let ready = try await RawClient(port: b.adminPort).request("GET", "/readyz")
                    #expect(ready.status == 200, "the store answers")
                    for agent in h.acme { agent.reset() }

                    let bobOnB = try await onB.request("POST", "/t/acme/invocations", headers: [bob, (Self.runtime, "shared-runtime-0001")], body: "{}")
                    #expect(bobOnB.status == 403)
                    #expect(bobOnB.json?["error"] == .string("session_forbidden"))
                    let aliceOnB = try await onB.request("POST", "/t/acme/invocations", headers: [alice, (Self.runtime, "shared-runtime-0001")], body: "{}")
                    #expect(aliceOnB.status == 200)

                    let bobMCP = try await onB.request("POST", "/t/acme/mcp", headers: [bob, (Self.mcp, "shared-mcp-1")], body: "{}")
                    #expect(bobMCP.status == 404)
                    let aliceMCP = try await onB.request("POST", "/t/acme/mcp", headers: [alice, (Self.mcp, "shared-mcp-1")], body: "{}")
                    #expect(aliceMCP.status == 200)
                    #expect(home.received().count == 1, "B routes the session to the instance that issued it through A")
                    #expect(h.upstreamRequests.count == 2, "bob's requests never reached an upstream")

                    // The other way round: bob claims a session on B; A, restarted, refuses alice.
                    let bobClaims = try await onB.request("POST", "/t/acme/invocations", headers: [bob, (Self.runtime, "shared-runtime-0002")], body: "{}")
                    #expect(bobClaims.status == 200)
                } catch {
                    await b.shutdown()
                    throw error
                }
                await b.shutdown()
                #expect((b.store as? PostgresStore)?.isClosed == true, "shutdown closes the pool")
                try await h.restartGatehouse()
                let aliceOnA = try await h.client.request("POST", "/t/acme/invocations", headers: [alice, (Self.runtime, "shared-runtime-0002")], body: "{}")
                #expect(aliceOnA.status == 403)
                let bobOnA = try await h.client.request("POST", "/t/acme/invocations", headers: [bob, (Self.runtime, "shared-runtime-0002")], body: "{}")
                #expect(bobOnA.status == 200)
            }
        }
    }

    @Test func changesOnOneRunningReplicaAreEnforcedByTheOtherWithinASecond() async throws {
        try await PostgresTestServer.withDatabase(prefix: "gh_replicas_") { url in
            try await withAdminHarness({ setup, _, _ in setup.settings.store = .postgres(url: url) }) { h in
                let b = try await h.startReplica()
                defer { Task { await b.shutdown() } }
                let onB = RawClient(port: b.dataPort)
                let adminB = RawClient(port: b.adminPort)
                let alice = h.bearer(h.token("alice"))
                let bob = h.bearer(h.token("bob"))
                func status(_ client: RawClient, _ path: String, _ headers: [(String, String)]) async throws -> Int {
                    try await client.request("POST", path, headers: headers, body: "{}").status
                }

                // Client-issued: alice claims on A; bob, racing on B a moment later, is refused by
                // the store even though B never saw the binding; alice is accepted on B.
                #expect(try await status(h.client, "/t/acme/invocations", [alice, (Self.runtime, "live-runtime-0001")]) == 200)
                #expect(try await status(onB, "/t/acme/invocations", [bob, (Self.runtime, "live-runtime-0001")]) == 403)
                #expect(try await status(onB, "/t/acme/invocations", [alice, (Self.runtime, "live-runtime-0001")]) == 200)

                // Server-issued: opened through A, at once usable by alice on B and unknown to bob.
                for agent in h.acme { agent.setResponseHeaders(HTTPHeaders([(Self.mcp, "live-mcp-0001")])) }
                #expect(try await status(h.client, "/t/acme/mcp", [alice]) == 200)
                for agent in h.acme { agent.setResponseHeaders([:]) }
                #expect(try await status(onB, "/t/acme/mcp", [bob, (Self.mcp, "live-mcp-0001")]) == 404)
                #expect(try await status(onB, "/t/acme/mcp", [alice, (Self.mcp, "live-mcp-0001")]) == 200)
                // Both replicas hold it in memory now; A's copy is then revoked through B.
                #expect(try await status(h.client, "/t/acme/mcp", [alice, (Self.mcp, "live-mcp-0001")]) == 200)
                let key = try await h.createKey("acme")
                let op = ("Authorization", "Bearer \(key.key)")
                let revoked = try await adminB.request("DELETE", "/admin/v1/tenants/acme/sessions/\(Self.mcp)/live-mcp-0001", headers: [op])
                #expect(revoked.status == 204, "\(revoked.text)")
                #expect(await eventually(within: 1) { (try? await status(h.client, "/t/acme/mcp", [alice, (Self.mcp, "live-mcp-0001")])) == 404 },
                        "the revocation made on B is enforced on A within 1 s")
                // Same for a client-issued session A holds: revoked by subject through B.
                let bySubject = try await adminB.request("DELETE", "/admin/v1/tenants/acme/sessions?subject=alice", headers: [op])
                #expect(bySubject.status == 200, "\(bySubject.text)")
                #expect(await eventually(within: 1) { (try? await status(h.client, "/t/acme/invocations", [alice, (Self.runtime, "live-runtime-0001")])) == 403 })
                // B lists what A bound (a session B never saw).
                #expect(try await status(h.client, "/t/acme/invocations", [bob, (Self.runtime, "live-runtime-0002")]) == 200)
                let listed = try await adminB.request("GET", "/admin/v1/tenants/acme/sessions?subject=bob", headers: [op])
                #expect(listed.json?["items"]?.arrayValue?.count == 1, "\(listed.text)")

                // An IdP registered on A passes on B within 1 s; deleted on B, refused on A within
                // 1 s although A had verified (and cached) the token.
                let partner = try await DevIdentityProvider.start(group: h.group)
                let partnerToken = partner.mintToken(subject: "pat", tenant: "acme")
                #expect(try await h.acmeStatus(partnerToken, port: b.dataPort) == 401)
                let put = try await h.adminCall(
                    "PUT", "/admin/v1/tenants/acme/idps/partner", token: key.key, body: Harness.idpBody(issuer: partner.issuer, jwksURI: partner.jwksURL))
                #expect(put.status == 201, "\(put.text)")
                #expect(await eventually(within: 1) { (try? await h.acmeStatus(partnerToken, port: b.dataPort)) == 200 }, "live on B within 1 s")
                #expect(try await h.acmeStatus(partnerToken) == 200)
                let deleted = try await adminB.request("DELETE", "/admin/v1/tenants/acme/idps/partner", headers: [op])
                #expect(deleted.status == 204, "\(deleted.text)")
                #expect(await eventually(within: 1) { (try? await h.acmeStatus(partnerToken)) == 401 }, "gone on A within 1 s")
                try await partner.shutdown()

                // A tenant admin key revoked on B is refused on A at once (every call reads the store).
                let revokedKey = try await adminB.request("DELETE", "/admin/v1/tenants/acme/keys/\(key.id)", headers: [("Authorization", "Bearer \(testOperatorToken)")])
                #expect(revokedKey.status == 204, "\(revokedKey.text)")
                #expect(try await h.adminCall("GET", "/admin/v1/tenants/acme/idps", token: key.key).status == 401)
            }
        }
    }

    @Test func aStoreLookupForAnUnseenSessionCountsOnceAgainstTheTenantRateLimit() async throws {
        try await PostgresTestServer.withDatabase(prefix: "gh_ratelimit_") { url in
            try await withHarness({ setup, _, _ in
                setup.settings.store = .postgres(url: url)
                setup.tenants[0].limits = TenantLimits(requestsPerSecond: 1)
            }) { h in
                // An id the replica never saw is looked up in the store: the request is admitted
                // once (404 for the unknown session, not 429 for a second admission)…
                let alice = h.bearer(h.token("alice"))
                let first = try await h.client.request("POST", "/t/acme/mcp", headers: [alice, (Self.mcp, "never-issued-0001")], body: "{}")
                #expect(first.status == 404)
                // …and the limit still applies to such requests.
                let second = try await h.client.request("POST", "/t/acme/mcp", headers: [alice, (Self.mcp, "never-issued-0002")], body: "{}")
                #expect(second.status == 429)
            }
        }
    }

    @Test func twoReplicasTogetherHoldATenantsRateAndOneAloneGetsItAllBack() async throws {
        try await PostgresTestServer.withDatabase(prefix: "gh_shares_") { url in
            try await withHarness({ setup, _, _ in
                setup.settings.store = .postgres(url: url)
                // 2 a second for the deployment: 1 a second (a burst of 1) on each of two replicas.
                setup.tenants[0].limits = TenantLimits(requestsPerSecond: 2)
            }) { h in
                #expect(h.gatehouse.runtime.replicas.count == 1)
                let b = try await h.startReplica()
                do {
                    // B counted both at its start; A counts B at its next heartbeat.
                    #expect(b.runtime.replicas.count == 2)
                    #expect(await eventually(within: 15) { h.gatehouse.runtime.replicas.count == 2 }, "A never counted B")
                    let alice = h.bearer(h.token("alice"))
                    let onB = RawClient(port: b.dataPort)
                    let started = monotonicSeconds()
                    var admitted = 0
                    for _ in 0..<4 {
                        if try await h.client.request("GET", "/t/acme/a", headers: [alice]).status == 200 { admitted += 1 }
                        if try await onB.request("GET", "/t/acme/b", headers: [alice]).status == 200 { admitted += 1 }
                    }
                    let elapsed = monotonicSeconds() - started
                    // Whole limits on each replica would admit 4 at once (a burst of 2 each).
                    #expect(admitted <= 2 + Int((2 * elapsed).rounded(.down)), "\(admitted) admitted in \(elapsed) s against 2/s")
                    #expect(admitted >= 2, "each replica admits its share")
                } catch {
                    await b.shutdown()
                    throw error
                }
                // B stops: A is alone again within a few seconds.
                await b.shutdown()
                #expect(await eventually(within: 15) { h.gatehouse.runtime.replicas.count == 1 }, "A still counts B")
            }
        }
    }
}

/// The test server (`scripts/test` starts one): a user that may create databases.
enum PostgresTestServer {
    static var url: String? { ProcessInfo.processInfo.environment["GATEHOUSE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 } }

    /// A database of its own for one test (the harness's SQLite file is not used), dropped after.
    static func withDatabase(prefix: String, _ body: (String) async throws -> Void) async throws {
        let admin = try PostgresURL(parsing: url ?? "")
        let name = prefix + UUID().uuidString.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(16)
        let database = try await PostgresDatabases.create(name, admin: admin)
        do {
            try await body(database.connectionString)
        } catch {
            try? await PostgresDatabases.drop(database.database, admin: admin)
            throw error
        }
        try await PostgresDatabases.drop(database.database, admin: admin)
    }
}
