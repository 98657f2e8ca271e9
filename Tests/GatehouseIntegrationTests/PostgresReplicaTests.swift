import Foundation
import GatehouseApp
import GatehouseCore
import GatehouseHTTP
import NIOHTTP1
import Testing

@testable import GatehousePostgres

/// DESIGN 9 from outside: two Gatehouse replicas on one PostgreSQL database share the session
/// bindings, so a session bound through one is enforced by the other. (Live propagation of
/// later changes between running replicas is not part of the store yet: a replica sees what
/// was bound when it loaded — at start.)
@Suite(
    .serialized,
    .enabled(if: PostgresTestServer.url != nil, "GATEHOUSE_TEST_POSTGRES_URL is not set (scripts/test starts a server and sets it)"))
struct PostgresReplicaTests {
    static let mcp = "Mcp-Session-Id"
    static let runtime = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"

    @Test func aSessionBoundThroughOneReplicaIsEnforcedByAnother() async throws {
        try await withReplicaDatabase { url in
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

    /// A database of its own for the test (the harness's SQLite file is not used), dropped after.
    private func withReplicaDatabase(_ body: (String) async throws -> Void) async throws {
        let admin = try PostgresURL(parsing: PostgresTestServer.url ?? "")
        let name = "gh_replicas_" + UUID().uuidString.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(16)
        let database = try await PostgresDatabases.create(String(name), admin: admin)
        do {
            try await body(database.connectionString)
        } catch {
            try? await PostgresDatabases.drop(database.database, admin: admin)
            throw error
        }
        try await PostgresDatabases.drop(database.database, admin: admin)
    }
}

/// The test server (`scripts/test` starts one): a user that may create databases.
enum PostgresTestServer {
    static var url: String? { ProcessInfo.processInfo.environment["GATEHOUSE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 } }
}
