import Foundation
import GatehouseApp
import GatehouseConfig
import GatehouseCore
import GatehouseDemo
import NIOHTTP1
import Testing

/// Session listing and revocation through the admin API (docs/sessions-and-oauth.md "Managing sessions", docs/admin-api.md "Sessions"), the audit log, and reload.
@Suite(.serialized) struct AdminSessionTests {
    static let runtime = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
    static let mcp = "Mcp-Session-Id"

    func use(_ h: Harness, _ user: String, _ session: String) async throws -> RawClient.Response {
        try await h.client.request("POST", "/t/acme/invoke", headers: [h.bearer(h.token(user)), (Self.runtime, session)], body: "{}")
    }

    @Test func sessionsAreListedPagedAndRevokedOneOrAllAtOnce() async throws {
        try await withAdminHarness { h in
            let key = try await h.createKey("acme")
            for (user, session) in [("alice", "alice-session-0001"), ("alice", "alice-session-0002"), ("bob", "bob-session-0001")] {
                #expect(try await use(h, user, session).status == 200)
            }
            // A server-issued session for bob too.
            for agent in h.acme { agent.setResponseHeaders(HTTPHeaders([(Self.mcp, "bob-mcp-1")])) }
            #expect(try await h.client.request("POST", "/t/acme/mcp", headers: [h.bearer(h.token("bob"))], body: "{}").status == 200)
            for agent in h.acme { agent.setResponseHeaders([:]) }

            let all = try await h.adminCall("GET", "/admin/v1/tenants/acme/sessions", token: key.key)
            #expect(all.json?["items"]?.arrayValue?.count == 4)
            #expect(all.json?["next"] == .null)
            let alice = try await h.adminCall("GET", "/admin/v1/tenants/acme/sessions?subject=alice", token: key.key)
            let aliceItems = try #require(alice.json?["items"]?.arrayValue)
            #expect(aliceItems.count == 2 && aliceItems.allSatisfy { $0["subject"] == .string("alice") && $0["issued_by"] == .string("client") })
            let byHeader = try await h.adminCall("GET", "/admin/v1/tenants/acme/sessions?header=mcp-session-id", token: key.key)
            #expect(byHeader.json?["items"]?.arrayValue?.map { $0["id"] } == [.string("bob-mcp-1")])

            // Paging: one at a time, every binding exactly once.
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await h.adminCall("GET", "/admin/v1/tenants/acme/sessions?limit=1" + (cursor.map { "&cursor=\($0)" } ?? ""), token: key.key)
                seen += page.json?["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                cursor = page.json?["next"]?.stringValue
            } while cursor != nil && seen.count < 10
            #expect(seen.sorted() == ["alice-session-0001", "alice-session-0002", "bob-mcp-1", "bob-session-0001"])
            #expect(try await h.adminCall("GET", "/admin/v1/tenants/acme/sessions?limit=0", token: key.key).status == 422)
            #expect(try await h.adminCall("GET", "/admin/v1/tenants/acme/sessions?cursor=%%%", token: key.key).status == 422)
            // An empty cursor is the first page (the OpenAPI document allows it), not a bad one.
            let emptyCursor = try await h.adminCall("GET", "/admin/v1/tenants/acme/sessions?limit=1&cursor=", token: key.key)
            #expect(emptyCursor.status == 200 && emptyCursor.json?["items"]?.arrayValue?.count == 1, "\(emptyCursor.status) \(emptyCursor.text)")
            #expect(try await h.adminCall("GET", "/admin/v1/tenants/acme/audit?cursor=", token: key.key).status == 200)

            // Revoke one: refused at once, for its owner and for anyone trying to claim the id again.
            let one = try await h.adminCall("DELETE", "/admin/v1/tenants/acme/sessions/\(Self.runtime)/alice-session-0001", token: key.key)
            #expect(one.status == 204)
            let owner = try await use(h, "alice", "alice-session-0001")
            #expect(owner.status == 403)
            #expect(try await use(h, "mallory", "alice-session-0001").status == 403)
            #expect(try await use(h, "alice", "alice-session-0002").status == 200, "other sessions are untouched")
            #expect(try await h.adminCall("DELETE", "/admin/v1/tenants/acme/sessions/\(Self.runtime)/alice-session-0001", token: key.key).status == 404)
            #expect(try await h.adminCall("DELETE", "/admin/v1/tenants/acme/sessions/\(Self.runtime)/never-bound", token: key.key).status == 404)
            // The revocation is durable: the store refuses it after a restart too.
            let rows = try await h.gatehouse.store.loadBindings(now: 0)
            #expect(rows.first { $0.key.id == "alice-session-0001" }?.principal.isRevoked == true)

            // Revoke every session of bob: the client- and the server-issued one.
            #expect(try await h.adminCall("DELETE", "/admin/v1/tenants/acme/sessions", token: key.key).status == 422, "a subject is required")
            #expect(try await h.adminCall("DELETE", "/admin/v1/tenants/acme/sessions?subject=a%0Ab", token: key.key).status == 422)
            #expect(try await h.adminCall("DELETE", "/admin/v1/tenants/acme/sessions?subject=" + String(repeating: "x", count: 1025), token: key.key).status == 422)
            let bob = try await h.adminCall("DELETE", "/admin/v1/tenants/acme/sessions?subject=bob", token: key.key)
            #expect(bob.status == 200)
            #expect(bob.json?["revoked_sessions"] == .number("2"))
            #expect(try await use(h, "bob", "bob-session-0001").status == 403)
            let mcp = try await h.client.request("POST", "/t/acme/mcp", headers: [h.bearer(h.token("bob")), (Self.mcp, "bob-mcp-1")], body: "{}")
            #expect(mcp.status == 404)
            let left = try await h.adminCall("GET", "/admin/v1/tenants/acme/sessions", token: key.key)
            #expect(left.json?["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["alice-session-0002"])

            try await h.restartGatehouse()
            #expect(try await use(h, "alice", "alice-session-0001").status == 403, "still revoked after a restart")
            #expect(try await use(h, "alice", "alice-session-0002").status == 200)

            // The audit log has both revocations, with the key as actor; newest first, paged.
            let audit = try await h.adminCall("GET", "/admin/v1/tenants/acme/audit?limit=1", token: key.key)
            let newest = try #require(audit.json?["items"]?.arrayValue?.first)
            #expect(newest["action"] == .string("session.revoke") && newest["target"] == .string("subject/bob") && newest["actor"] == .string(key.id))
            let next = try #require(audit.json?["next"]?.stringValue)
            let older = try await h.adminCall("GET", "/admin/v1/tenants/acme/audit?limit=1&cursor=\(next)", token: key.key)
            #expect(older.json?["items"]?.arrayValue?.first?["action"] == .string("session.revoke"))
            #expect(older.json?["items"]?.arrayValue?.first?["outcome"] == .string("ok"))
            // globex's audit has none of it: only the creation of its own key.
            let globexKey = try await h.createKey("globex")
            let globexAudit = try await h.adminCall("GET", "/admin/v1/tenants/globex/audit", token: globexKey.key)
            #expect(globexAudit.json?["items"]?.arrayValue?.compactMap { $0["action"]?.stringValue } == ["key.create"])
            // The operator's audit has all of it, key creations included.
            let global = try await h.adminCall("GET", "/admin/v1/audit?limit=1000")
            let actions = global.json?["items"]?.arrayValue?.compactMap { $0["action"]?.stringValue } ?? []
            #expect(actions.filter { $0 == "key.create" }.count == 2 && actions.filter { $0 == "session.revoke" }.count == 2)
        }
    }

    @Test func reloadReReadsTenantsKeepsTheOldConfigOnErrorAndKeepsRegisteredIdPs() async throws {
        let peers = try await LoopbackPeers.start(agentName: "admin-reload")
        let partner = try await DevIdentityProvider.start(group: peers.group)
        let dir = try TempDir()
        try dir.writeOperatorConfig()
        try dir.write("gatehouse.yaml", try String(contentsOfFile: dir.path + "/gatehouse.yaml", encoding: .utf8)
            .replacingOccurrences(of: "admin:\n  listen: \"127.0.0.1:0\"", with: "admin:\n  listen: \"127.0.0.1:0\"\n  operator_token_file: state/operator-token"))
        try peers.writeAcmeTenant(dir)
        let snapshot = try ConfigLoader.load(configFile: dir.path + "/gatehouse.yaml", environment: [:]).get()
        var options = Gatehouse.Options()
        options.accessLog = false
        options.threads = 1
        options.watchTenants = false
        let gatehouse = try Gatehouse(snapshot: snapshot, options: options)
        try await gatehouse.start()
        defer { Task { await gatehouse.shutdown(); try? await partner.shutdown(); try? await peers.shutdown() } }

        // The operator token file did not exist: it was created, private.
        let tokenPath = dir.path + "/state/operator-token"
        let token = try String(contentsOfFile: tokenPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.count >= 40)
        let mode = try FileManager.default.attributesOfItem(atPath: tokenPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let admin = RawClient(port: gatehouse.adminPort)
        let data = RawClient(port: gatehouse.dataPort)
        func call(_ method: String, _ path: String, body: String? = nil) async throws -> RawClient.Response {
            try await admin.request(method, path, headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")], body: body)
        }
        #expect(try await call("PUT", "/admin/v1/tenants/acme/idps/partner", body: Harness.idpBody(issuer: partner.issuer, jwksURI: partner.jwksURL)).status == 201)
        let partnerToken = partner.mintToken(subject: "pat")
        #expect(try await data.request("GET", "/t/acme/x", headers: [("Authorization", "Bearer \(partnerToken)")]).status == 200)

        // A broken file: 422 with the problem, the old configuration stays in force.
        try dir.write("tenants/acme.yaml", "id: acme\nidps: [\n")
        try dir.write("tenants/globex.yaml", "id: globex\nunknown_key: 1\n")
        let broken = try await call("POST", "/admin/v1/reload")
        #expect(broken.status == 422)
        #expect(broken.json?["error"] == .string("reload_failed"))
        let files = broken.json?["problems"]?.arrayValue?.compactMap { $0["file"]?.stringValue } ?? []
        #expect(files.contains { $0.hasSuffix("acme.yaml") } && files.contains { $0.hasSuffix("globex.yaml") }, "\(broken.text)")
        #expect(try await data.request("GET", "/t/acme/x", headers: [("Authorization", "Bearer \(peers.idp.mintToken())")]).status == 200)

        // Fixed: 200, and the registered IdP is still in force after the reload.
        try FileManager.default.removeItem(atPath: dir.path + "/tenants/globex.yaml")
        try peers.writeAcmeTenant(dir, extra: "display_name: \"Acme Reloaded\"\n")
        let ok = try await call("POST", "/admin/v1/reload")
        #expect(ok.status == 200)
        #expect(ok.json?["tenants"] == .number("1"))
        let tenants = try await call("GET", "/admin/v1/tenants")
        #expect(tenants.json?["items"]?.arrayValue?.first?["display_name"] == .string("Acme Reloaded"))
        #expect(tenants.json?["items"]?.arrayValue?.first?["registered_idps"] == .number("1"))
        #expect(try await data.request("GET", "/t/acme/x", headers: [("Authorization", "Bearer \(partnerToken)")]).status == 200)
        let audit = try await call("GET", "/admin/v1/audit")
        let reloads = audit.json?["items"]?.arrayValue?.filter { $0["action"] == .string("reload") }.compactMap { $0["outcome"]?.stringValue }
        #expect(reloads == ["ok", "invalid"])
    }
}
