import Foundation
import GatehouseCore
import GatehouseDemo
import GatehouseSessions
import Testing

@testable import GatehouseAdmin

/// docs/admin-api.md "Authentication" from outside: who may call what, and that a refused call changes nothing.
@Suite(.serialized) struct AdminAPIAccessTests {
    /// Everything an admin can see, read with the operator token.
    func fingerprint(_ h: Harness) async throws -> String {
        var parts: [String] = []
        parts.append(try await h.adminCall("GET", "/admin/v1/tenants").text)
        parts.append(try await h.adminCall("GET", "/admin/v1/audit?limit=1000").text)
        for t in ["acme", "globex"] {
            for what in ["idps", "keys", "sessions"] {
                parts.append(try await h.adminCall("GET", "/admin/v1/tenants/\(t)/\(what)").text)
            }
        }
        let rows = try await h.gatehouse.store.loadBindings(now: 0)
        parts.append(rows.map { "\($0.key.id)=\($0.principal.subject)" }.sorted().joined(separator: ","))
        return parts.joined(separator: "\n")
    }

    @Test func everyEndpointRefusesMissingBadForeignAndRevokedCredentialsAndNothingChanges() async throws {
        try await withAdminHarness { h in
            let partner = try await DevIdentityProvider.start(group: h.group)
            // Objects a successful call would change: a registered IdP, keys, a bound session.
            let put = try await h.adminCall("PUT", "/admin/v1/tenants/globex/idps/partner", body: Harness.idpBody(issuer: partner.issuer, jwksURI: partner.jwksURL))
            #expect(put.status == 201)
            let acmeKey = try await h.createKey("acme")
            let globexKey = try await h.createKey("globex")
            let revoked = try await h.createKey("acme", name: "old")
            #expect(try await h.adminCall("DELETE", "/admin/v1/tenants/acme/keys/\(revoked.id)").status == 204)
            let bound = try await h.client.request(
                "POST", "/t/globex/mcp", headers: [h.bearer(h.token("bob", tenant: "globex")), ("X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", "globex-session-0001")], body: "{}")
            #expect(bound.status == 200)

            let before = try await fingerprint(h)
            let forged = "ghk_" + String(repeating: "a", count: 16) + "_" + String(repeating: "b", count: 43)
            var checked = 0
            for route in AdminAPI.routes {
                for (label, token, tenant, expected) in [
                    ("none", nil, "globex", 401), ("garbage", "not-a-token", "globex", 401), ("forged key", forged, "globex", 401),
                    ("revoked key", revoked.key, "acme", 401), ("operator token with a suffix", testOperatorToken + "x", "globex", 401),
                    ("acme key on globex", acmeKey.key, "globex", 403),
                    ("acme key on an operator endpoint", acmeKey.key, "acme", route.access == .operator ? 403 : nil),
                ] as [(String, String?, String, Int?)] {
                    guard let expected else { continue }
                    var path = route.pattern
                        .replacingOccurrences(of: "{t}", with: tenant)
                        .replacingOccurrences(of: "{name}", with: "partner")
                        .replacingOccurrences(of: "{header}", with: "x-amzn-bedrock-agentcore-runtime-session-id")
                    path = path.replacingOccurrences(of: "keys/{id}", with: "keys/\(tenant == "globex" ? globexKey.id : acmeKey.id)")
                        .replacingOccurrences(of: "{id}", with: "globex-session-0001")
                    if route.method == .DELETE, route.pattern.hasSuffix("/sessions") { path += "?subject=bob" }
                    let body: String? = route.method == .PUT ? Harness.idpBody(issuer: "https://other.example", jwksURI: partner.jwksURL)
                        : route.method == .POST ? "{}" : nil
                    let r = try await h.adminCall(route.method.rawValue, path, token: token, body: body)
                    #expect(r.status == expected, "\(route.method.rawValue) \(route.pattern) with \(label): \(r.status) \(r.text)")
                    if expected == 401 { #expect(r.header("WWW-Authenticate")?.hasPrefix("Bearer") == true) }
                    checked += 1
                }
            }
            #expect(checked >= AdminAPI.routes.count * 6)
            #expect(try await fingerprint(h) == before, "a refused call changed something")
            // The key of globex still works on globex, and only there.
            #expect(try await h.adminCall("GET", "/admin/v1/tenants/globex/idps", token: globexKey.key).status == 200)
            #expect(try await h.adminCall("GET", "/admin/v1/tenants/acme/idps", token: globexKey.key).status == 403)
            #expect(try await h.adminCall("GET", "/admin/v1/tenants/nope/idps", token: globexKey.key).status == 403, "a key learns nothing about other tenants")
            #expect(try await h.adminCall("GET", "/admin/v1/tenants/nope/idps").status == 404)
            try await partner.shutdown()
        }
    }

    @Test func tenantKeysAreShownOnceStoredOnlyAsHashesAndRevocable() async throws {
        try await withAdminHarness { h in
            let created = try await h.adminCall("POST", "/admin/v1/tenants/acme/keys", body: #"{"name": "ci"}"#)
            #expect(created.status == 201)
            let key = try #require(created.json?["key"]?.stringValue)
            let id = try #require(created.json?["id"]?.stringValue)
            #expect(key.hasPrefix("ghk_\(id)_"))
            let listed = try await h.adminCall("GET", "/admin/v1/tenants/acme/keys")
            #expect(listed.status == 200)
            #expect(listed.json?["items"]?.arrayValue?.first?["id"] == .string(id))
            #expect(!listed.text.contains(key) && !listed.text.contains(String(key.suffix(43))), "the key is never shown again")
            #expect(try await h.adminCall("GET", "/admin/v1/tenants/acme/idps", token: key).status == 200)

            // Neither the key nor its secret part is anywhere in the store's files.
            await h.gatehouse.shutdown()
            let secret = Array(key.suffix(43).utf8)
            for suffix in ["", "-wal", "-shm"] {
                guard let bytes = FileManager.default.contents(atPath: h.keyDir + "/state.sqlite" + suffix) else { continue }
                #expect(!Array(bytes).contains(subsequence: secret), "state.sqlite\(suffix) holds the key in clear")
            }
            try await h.restartGatehouse()

            #expect(try await h.adminCall("GET", "/admin/v1/tenants/acme/idps", token: key).status == 200, "keys survive a restart")
            #expect(try await h.adminCall("DELETE", "/admin/v1/tenants/acme/keys/\(id)").status == 204)
            #expect(try await h.adminCall("GET", "/admin/v1/tenants/acme/idps", token: key).status == 401, "a revoked key is refused at once")
            #expect(try await h.adminCall("DELETE", "/admin/v1/tenants/acme/keys/\(id)").status == 404)
            #expect(try await h.adminCall("DELETE", "/admin/v1/tenants/globex/keys/\(id)").status == 404, "another tenant's key id is unknown there")
            let bad = try await h.adminCall("POST", "/admin/v1/tenants/acme/keys", body: #"{"name": 5}"#)
            #expect(bad.status == 422)
            #expect(bad.json?["problems"]?.arrayValue?.first?["path"] == .string("name"))
            #expect(try await h.adminCall("POST", "/admin/v1/tenants/nope/keys", body: "{}").status == 404)
        }
    }

    @Test func openAPIDocumentListsExactlyTheRoutesThatAnswer() async throws {
        try await withAdminHarness { h in
            let document = try await h.adminCall("GET", "/admin/v1/openapi.json", token: nil)
            #expect(document.status == 200)
            let doc = try #require(document.json)
            #expect(doc["openapi"]?.stringValue?.hasPrefix("3.1") == true)
            // The file in the repository is the one served.
            let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/GatehouseAdmin/openapi.json")
            #expect(try JSONParser.parse(Array(Data(contentsOf: file))) == doc)

            let paths = try #require(doc["paths"]?.objectValue)
            var documented: Set<String> = []
            for (path, item) in paths {
                for method in (item.objectValue ?? [:]).keys where ["get", "put", "post", "delete", "patch"].contains(method) {
                    documented.insert("\(method.uppercased()) \(path)")
                    let concrete = path.replacingOccurrences(of: "{t}", with: "acme").replacingOccurrences(of: "{name}", with: "dev")
                        .replacingOccurrences(of: "{header}", with: "mcp-session-id").replacingOccurrences(of: "{id}", with: "nothing")
                    let r = try await h.adminCall(method.uppercased(), concrete + (method == "delete" && path.hasSuffix("/sessions") ? "?subject=x" : ""),
                                                  body: method == "get" || method == "delete" ? nil : "{}")
                    #expect(r.status != 405, "\(method) \(path)")
                    #expect(r.json?["error"] != .string("not_found") || r.json?["error_description"] != .string("no such endpoint"), "\(method) \(path) is not served")
                }
            }
            var served: Set<String> = Set(AdminAPI.routes.map { "\($0.method.rawValue) \($0.pattern)" })
            for builtin in ["GET /admin/v1/openapi.json", "GET /healthz", "GET /readyz", "GET /metrics"] { served.insert(builtin) }
            #expect(documented == served, "documented but not served: \(documented.subtracting(served)); served but not documented: \(served.subtracting(documented))")
        }
    }
}

extension Array where Element: Equatable {
    func contains(subsequence: [Element]) -> Bool {
        guard !subsequence.isEmpty, subsequence.count <= count else { return false }
        for start in 0...(count - subsequence.count) where self[start] == subsequence[0] {
            if Array(self[start..<(start + subsequence.count)]) == subsequence { return true }
        }
        return false
    }
}

@Suite struct AdminLogPathTests {
    @Test func sessionIDsInAdminPathsAreHashedForLogs() {
        let path = "/admin/v1/tenants/acme/sessions/mcp-session-id/secret-session-0001"
        let logged = AdminLogPath.redacted(path)
        #expect(!logged.contains("secret-session-0001"))
        #expect(logged.hasPrefix("/admin/v1/tenants/acme/sessions/mcp-session-id/"))
        #expect(AdminLogPath.redacted("/admin/v1/tenants/acme/idps/x") == "/admin/v1/tenants/acme/idps/x")
    }
}
