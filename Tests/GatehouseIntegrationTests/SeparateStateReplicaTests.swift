import Foundation
import GatehouseCore
import GatehouseDemo
import Logging
import NIOHTTP1
import Testing

@testable import GatehouseApp
@testable import GatehousePostgres

/// Replicas that share nothing but the database and one secret (the sealing key), as
/// Kubernetes pods without a shared volume: each signs with its own assertion key and every
/// replica's key set publishes all of them; a flow sealed by one opens on another; a replica
/// given another sealing key refuses to start; hostile notifications change nothing.
/// (`PostgresReplicaTests` runs its replicas with separate state folders too.)
@Suite(
    .serialized,
    .enabled(if: PostgresTestServer.url != nil, "GATEHOUSE_TEST_POSTGRES_URL is not set (scripts/test starts a server and sets it)"))
struct SeparateStateReplicaTests {
    static func kids(_ port: Int) async -> Set<String> {
        let r = try? await RawClient(port: port).request("GET", "/.gatehouse/jwks.json")
        return Set(r?.json?["keys"]?.arrayValue?.compactMap { $0["kid"]?.stringValue } ?? [])
    }

    /// What the agent that received `response`'s request made of its assertion, and the kid it was signed with.
    static func assertion(_ response: RawClient.Response) -> (verified: Bool, kid: String?) {
        let check = response.json?["assertion"]
        let token = response.json?["headers"]?["x-gatehouse-assertion"]?.stringValue
        let header = token?.split(separator: ".").first.flatMap { Base64URL.decode($0) }.flatMap { try? JSONParser.parse($0) }
        return (check?["verified"] == .bool(true), header?["kid"]?.stringValue)
    }

    @Test func anAssertionSignedByEitherReplicaVerifiesWithTheOthersKeySet() async throws {
        try await PostgresTestServer.withDatabase(prefix: "gh_keys_") { url in
            try await withHarness({ setup, _, _ in setup.settings.store = .postgres(url: url) }) { h in
                let b = try await h.startReplica()
                defer { Task { await b.shutdown() } }
                let aKid = try #require(h.gatehouse.runtime.signer?.signingKeyID)
                let bKid = try #require(b.runtime.signer?.signingKeyID)
                #expect(aKid != bKid, "each replica signs with a key of its own")
                #expect(await eventually(within: 1) { await Self.kids(h.gatehouse.dataPort).contains(bKid) }, "A publishes B's key within 1 s of B's start")
                #expect(await Self.kids(b.dataPort).isSuperset(of: [aKid, bKid]), "B read A's key at its start")

                let alice = h.bearer(h.token("alice"))
                for agent in h.acme { agent.setAssertionJWKSURL("http://127.0.0.1:\(h.gatehouse.dataPort)/.gatehouse/jwks.json") }
                let viaB = try await RawClient(port: b.dataPort).request("GET", "/t/acme/hello", headers: [alice])
                #expect(viaB.status == 200)
                #expect(Self.assertion(viaB).kid == bKid)
                #expect(Self.assertion(viaB).verified, "B's assertion verifies with A's key set: \(viaB.json?["assertion"] ?? .null)")

                for agent in h.acme { agent.setAssertionJWKSURL("http://127.0.0.1:\(b.dataPort)/.gatehouse/jwks.json") }
                let viaA = try await h.client.request("GET", "/t/acme/hello", headers: [alice])
                #expect(Self.assertion(viaA).kid == aKid)
                #expect(Self.assertion(viaA).verified, "A's assertion verifies with B's key set: \(viaA.json?["assertion"] ?? .null)")
            }
        }
    }

    @Test func aReplicaWithAnotherSealingKeyRefusesToStartWithAClearMessage() async throws {
        try await PostgresTestServer.withDatabase(prefix: "gh_sealing_") { url in
            try await withHarness({ setup, _, _ in setup.settings.store = .postgres(url: url) }) { h in
                // The right key (the one A uses, mounted elsewhere) starts; another one does not.
                let b = try await h.startReplica()
                await b.shutdown()
                let wrong = h.keyDir + "/other-secret/sealing.key"
                try FileManager.default.createDirectory(atPath: h.keyDir + "/other-secret", withIntermediateDirectories: true)
                try Data(Secrets.randomBytes(32)).write(to: URL(fileURLWithPath: wrong))
                try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: wrong)
                let c = try h.makeReplica(sealingKeyFile: wrong)
                await #expect {
                    try await c.start()
                } throws: { error in
                    "\(error)".contains("the sealing key \(wrong) is not the key this store was first used with")
                        && "\(error)".contains("same sealing_key_file")
                }
                #expect(c.dataPort == 0 && c.adminPort == 0, "it never served")
                await c.shutdown()
                #expect(try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token("alice"))]).status == 200, "A serves on")
            }
        }
    }

    /// The user token is sealed by the replica that recorded the flow and opened by the one the
    /// provider's redirect happens to reach: only the sealing key is shared, not the key folder.
    @Test func aFlowStartedOnOneReplicaCompletesOnAnotherWithTheUsersToken() async throws {
        try await PostgresTestServer.withDatabase(prefix: "gh_flows_") { url in
            try await withHarness({ setup, _, agents in
                setup.settings.store = .postgres(url: url)
                setup.tenants[0].oauth = OAuthSettings(completionURL: agents[0].baseURL + "/oauth/complete", flowTTLSeconds: 600)
            }) { h in
                let b = try await h.startReplica()
                defer { Task { await b.shutdown() } }
                let alice = h.token("alice")
                let created = try await h.client.request(
                    "POST", "/.gatehouse/oauth/flows", headers: [h.bearer(alice), ("Content-Type", "application/json")],
                    body: #"{"session_id":"flow-x1","authorization_url":"https://provider.example/authorize"}"#, host: "acme.test")
                #expect(created.status == 201, "\(created.text)")
                let startURL = try #require(created.json?["start_url"]?.stringValue)
                let started = try await h.client.request("GET", String(startURL.dropFirst("http://acme.test".count)), host: "acme.test")
                #expect(started.status == 302)
                let cookie = try #require(started.header("Set-Cookie")).prefix { $0 != ";" }
                let done = try await RawClient(port: b.dataPort).request(
                    "GET", "/.gatehouse/oauth/callback?session_id=flow-x1", headers: [("Cookie", String(cookie))], host: "acme.test")
                #expect(done.status == 200, "\(done.text)")
                let posts = h.acme[0].received().filter { $0.uri == "/oauth/complete" }
                #expect(posts.count == 1)
                #expect((try? JSONParser.parse(posts.first?.body ?? []))?["user_token"] == .string(alice), "B opened the token A sealed")
            }
        }
    }

    /// Anyone who may connect to the database may NOTIFY on the channel: garbage, forged binding
    /// digests and a flood of re-read requests are dropped or coalesced, and real changes still
    /// arrive within a second.
    @Test func hostileNotificationsChangeNothingAndRealChangesStillArrive() async throws {
        try await PostgresTestServer.withDatabase(prefix: "gh_hostile_") { url in
            try await withAdminHarness({ setup, _, _ in setup.settings.store = .postgres(url: url) }) { h in
                let b = try await h.startReplica()
                defer { Task { await b.shutdown() } }
                let alice = h.bearer(h.token("alice"))
                let session = ("X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", "hostile-runtime-0001")
                #expect(try await h.client.request("POST", "/t/acme/invocations", headers: [alice, session], body: "{}").status == 200)

                let outsider = try PostgresStore(url: url, logger: Logger(label: "outsider", factory: { _ in SwiftLogNoOpLogHandler() }))
                var payloads = ["", "hello", "g1.a.b.c", "g2", "g2.x.b.AAAAAAAAAAAAAAAAAAAAAA", "g2.x.i", "g2.x.k", String(repeating: "g2.", count: 2000)]
                payloads += (0..<200).map { _ in "g2.forger.b.\(Base64URL.encode(Secrets.randomBytes(16)))" }
                payloads += (0..<200).map { i in i.isMultiple(of: 2) ? "g2.forger.i" : "g2.forger.k" }
                for payload in payloads { try await outsider.notify(channel: ReplicaSync.channel, payload: payload) }
                await outsider.close()

                for port in [h.gatehouse.dataPort, b.dataPort] {
                    let r = try await RawClient(port: port).request("POST", "/t/acme/invocations", headers: [alice, session], body: "{}")
                    #expect(r.status == 200, "the session still works on \(port)")
                }
                let key = try await h.createKey("acme")
                let revoked = try await RawClient(port: b.adminPort).request(
                    "DELETE", "/admin/v1/tenants/acme/sessions/\(session.0)/\(session.1)", headers: [("Authorization", "Bearer \(key.key)")])
                #expect(revoked.status == 204, "\(revoked.text)")
                #expect(await eventually(within: 1) {
                    (try? await h.client.request("POST", "/t/acme/invocations", headers: [alice, session], body: "{}").status) == 403
                }, "the revocation on B is enforced on A within 1 s after the flood")
            }
        }
    }
}
