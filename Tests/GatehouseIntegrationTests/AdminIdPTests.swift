import Foundation
import GatehouseCore
import GatehouseDemo
import Testing

/// IdPs registered through the admin API (docs/admin-api.md "Registering an IdP"): validated live, in force within 1 s,
/// persisted; and the request-forgery guard on every URL a tenant admin gives.
@Suite(.serialized) struct AdminIdPTests {
    @Test func aRegisteredIdPIsLiveAtOnceGoneAtOnceAndSurvivesARestart() async throws {
        try await withAdminHarness { h in
            let partner = try await DevIdentityProvider.start(group: h.group)
            let key = try await h.createKey("acme")
            let token = partner.mintToken(subject: "pat", tenant: "acme")
            #expect(try await h.acmeStatus(token) == 401, "not trusted yet")

            let put = try await h.adminCall(
                "PUT", "/admin/v1/tenants/acme/idps/partner", token: key.key, body: Harness.idpBody(issuer: partner.issuer, jwksURI: partner.jwksURL))
            #expect(put.status == 201, "\(put.text)")
            #expect(put.json?["source"] == .string("admin"))
            #expect(partner.jwksRequests >= 1, "the key set was fetched before the registration was accepted")
            #expect(await eventually(within: 1) { (try? await h.acmeStatus(token)) == 200 }, "live within 1 s")
            let forwarded = try #require(h.acme.flatMap { $0.received() }.last)
            #expect(forwarded.headers.first { $0.0.lowercased() == "x-user-id" }?.1 == "pat")
            // The tenant's own tokens still pass; another tenant does not trust the partner.
            #expect(try await h.acmeStatus(h.token("alice")) == 200)
            let globex = try await h.client.request("GET", "/t/globex/x", headers: [h.bearer(partner.mintToken(subject: "pat", tenant: "globex"))])
            #expect(globex.status == 401)

            let listed = try await h.adminCall("GET", "/admin/v1/tenants/acme/idps", token: key.key)
            let items = try #require(listed.json?["items"]?.arrayValue)
            #expect(items.contains { $0["name"] == .string("dev") && $0["read_only"] == .bool(true) && $0["source"] == .string("file") })
            #expect(items.contains { $0["name"] == .string("partner") && $0["read_only"] == .bool(false) && $0["issuer"] == .string(partner.issuer) })

            // Replace (200), then delete: the token (verified and cached by now) stops working.
            let replaced = try await h.adminCall(
                "PUT", "/admin/v1/tenants/acme/idps/partner", token: key.key,
                body: Harness.idpBody(issuer: partner.issuer, jwksURI: partner.jwksURL, clients: ["gatehouse-demo", "other"]))
            #expect(replaced.status == 200)
            #expect(try await h.acmeStatus(token) == 200)
            #expect(try await h.adminCall("DELETE", "/admin/v1/tenants/acme/idps/partner", token: key.key).status == 204)
            #expect(await eventually(within: 1) { (try? await h.acmeStatus(token)) == 401 }, "gone within 1 s")
            #expect(try await h.acmeStatus(h.token("alice")) == 200)
            #expect(try await h.adminCall("DELETE", "/admin/v1/tenants/acme/idps/partner", token: key.key).status == 404)

            // Registered again, then a restart: still there, still live.
            #expect(try await h.adminCall("PUT", "/admin/v1/tenants/acme/idps/partner", token: key.key,
                                          body: Harness.idpBody(issuer: partner.issuer, jwksURI: partner.jwksURL)).status == 201)
            try await h.restartGatehouse()
            #expect(try await h.acmeStatus(token) == 200, "the registration survived the restart")
            let after = try await h.adminCall("GET", "/admin/v1/tenants/acme/idps/partner", token: key.key)
            #expect(after.status == 200)
            #expect(after.json?["in_force"] == .bool(true))

            // Every mutation left an audit entry naming the key.
            let audit = try await h.adminCall("GET", "/admin/v1/tenants/acme/audit", token: key.key)
            let entries = try #require(audit.json?["items"]?.arrayValue)
            let actions = entries.filter { $0["actor"] == .string(key.id) && $0["outcome"] == .string("ok") }.compactMap { $0["action"]?.stringValue }
            #expect(actions == ["idp.put", "idp.delete", "idp.put", "idp.put"], "\(actions)")
            #expect(entries.filter { $0["actor"] == .string(key.id) }.allSatisfy { $0["time"]?.stringValue?.hasSuffix("Z") == true && $0["target"] == .string("idp/partner") })
            #expect(entries.contains { $0["actor"] == .string("operator") && $0["action"] == .string("key.create") && $0["target"] == .string("key/\(key.id)") })
            try await partner.shutdown()
        }
    }

    @Test func fileDeclaredIdPsAreReadOnlyAndBadRegistrationsGet422WithFieldPaths() async throws {
        try await withAdminHarness { h in
            let partner = try await DevIdentityProvider.start(group: h.group)
            let body = Harness.idpBody(issuer: partner.issuer, jwksURI: partner.jwksURL)
            let fileName = try await h.adminCall("PUT", "/admin/v1/tenants/acme/idps/dev", body: body)
            #expect(fileName.status == 409)
            #expect(fileName.json?["error"] == .string("read_only"))
            #expect(try await h.adminCall("DELETE", "/admin/v1/tenants/acme/idps/dev").status == 409)
            #expect(try await h.adminCall("PUT", "/admin/v1/tenants/acme/idps/DEV", body: body).status == 409, "names differ in case only")

            func problems(_ body: String, name: String = "p") async throws -> [String] {
                let r = try await h.adminCall("PUT", "/admin/v1/tenants/acme/idps/\(name)", body: body)
                #expect(r.status == 422, "\(body): \(r.status) \(r.text)")
                return r.json?["problems"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? []
            }
            #expect(try await problems(#"{"issuer": "\#(partner.issuer)", "jwks_uri": "\#(partner.jwksURL)"}"#) == ["allowed_clients"])
            #expect(try await problems(#"{"issuer": "\#(partner.issuer)", "jwks_uri": "\#(partner.jwksURL)", "allowed_client": ["x"]}"#).contains("allowed_client"))
            #expect(try await problems(#"{"name": "other", "issuer": "\#(partner.issuer)", "jwks_uri": "\#(partner.jwksURL)", "allowed_clients": ["x"]}"#) == ["name"])
            #expect(try await problems(#"{"issuer": "\#(partner.issuer)", "jwks_uri": "\#(partner.jwksURL)", "allowed_clients": ["x"], "algorithms": ["HS256"]}"#) == ["algorithms[0]"])
            #expect(try await problems(#"{"issuer": "\#(partner.issuer)", "jwks_uri": "\#(partner.jwksURL)", "allowed_clients": ["x"], "claims": [{"claim": "a..b", "equals": 1}]}"#).first?.hasPrefix("claims[0]") == true)
            #expect(try await problems("not json").isEmpty == false)
            #expect(try await problems("[1]") == [""])
            #expect(try await problems(body, name: "-bad") == ["name"])
            // The tenant already trusts this issuer through its file IdP.
            #expect(try await problems(Harness.idpBody(issuer: h.idp.issuer, jwksURI: partner.jwksURL)) == ["issuer"])
            // Keys that cannot be fetched: the IdP is refused, naming the field.
            #expect(try await problems(Harness.idpBody(issuer: partner.issuer, jwksURI: "http://127.0.0.1:\(deadPort())/jwks.json")) == ["jwks_uri"])
            #expect(try await problems(Harness.idpBody(issuer: partner.issuer, jwksURI: partner.issuer + "/nothing-here")) == ["jwks_uri"])
            let wrongType = try await h.admin.request("PUT", "/admin/v1/tenants/acme/idps/p", headers: [("Authorization", "Bearer \(testOperatorToken)"), ("Content-Type", "text/plain")], body: body)
            #expect(wrongType.status == 415)

            // Nothing of that was registered; each attempt is in the audit log.
            let listed = try await h.adminCall("GET", "/admin/v1/tenants/acme/idps")
            #expect(listed.json?["items"]?.arrayValue?.count == 1)
            let audit = try await h.adminCall("GET", "/admin/v1/tenants/acme/audit?limit=1000")
            let outcomes = audit.json?["items"]?.arrayValue?.compactMap { $0["outcome"]?.stringValue } ?? []
            #expect(outcomes.count >= 12 && !outcomes.contains("ok"), "\(outcomes)")
            try await partner.shutdown()
        }
    }

    @Test func aTenantMayRegisterAtMostTwentyIdPs() async throws {
        try await withAdminHarness { h in
            let partner = try await DevIdentityProvider.start(group: h.group)
            for i in 0..<20 {
                let r = try await h.adminCall("PUT", "/admin/v1/tenants/acme/idps/p\(i)", body: Harness.idpBody(issuer: "https://issuer-\(i).example", jwksURI: partner.jwksURL))
                #expect(r.status == 201)
            }
            let over = try await h.adminCall("PUT", "/admin/v1/tenants/acme/idps/p20", body: Harness.idpBody(issuer: "https://issuer-20.example", jwksURI: partner.jwksURL))
            #expect(over.status == 409)
            #expect(over.json?["error"] == .string("too_many_idps"))
            // Replacing one of the twenty is still allowed.
            #expect(try await h.adminCall("PUT", "/admin/v1/tenants/acme/idps/p0", body: Harness.idpBody(issuer: "https://issuer-0b.example", jwksURI: partner.jwksURL)).status == 200)
            try await partner.shutdown()
        }
    }

    /// Every URL form of the address table of docs/admin-api.md "Request-forgery guard" is refused with 422, and the IdP behind it
    /// (a live server on loopback) is never asked.
    @Test func requestForgeryGuardRefusesInternalAddressesInEverySpelling() async throws {
        try await withAdminHarness({ setup, _, _ in
            setup.settings.identity.insecureIdPHosts = ["127.0.0.1"]
            setup.resolver = FixedResolver(table: ["idp.loopback-name.test": "127.0.0.1", "idp.metadata-name.test": "169.254.169.254", "idp.v6-name.test": "::1"])
        }) { h in
            let partner = try await DevIdentityProvider.start(group: h.group)
            let port = partner.port
            let hosts = [
                "localhost", "localhost.", "127.0.0.1.", "127.1.2.3", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                "224.0.0.1", "0.0.0.0", "255.255.255.255", "2130706433", "0177.0.0.1", "0x7f.1", "0x7f000001", "017700000001", "127.1",
                "[::1]", "[::]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[fe80::1]", "[fc00::1]",
                "[ff02::1]", "[::ffff:169.254.169.254]", "[::127.0.0.1]",
                "idp.loopback-name.test", "idp.metadata-name.test", "idp.v6-name.test", "metadata.internal", "x.localhost",
            ]
            var refused = 0
            for host in hosts {
                for field in ["jwks_uri", "discovery_url"] {
                    let url = "https://\(host):\(port)/" + (field == "jwks_uri" ? "jwks.json" : ".well-known/openid-configuration")
                    let body = JSONValue.object([
                        "issuer": .string("https://partner.example"), field: .string(url), "allowed_clients": .array([.string("x")]),
                    ]).compactText
                    let r = try await h.adminCall("PUT", "/admin/v1/tenants/acme/idps/partner", body: body)
                    #expect(r.status == 422, "\(url): \(r.status) \(r.text)")
                    #expect(r.json?["problems"]?.arrayValue?.first?["path"] == .string(field), "\(url)")
                    if r.status == 422 { refused += 1 }
                }
            }
            #expect(refused == hosts.count * 2)
            // Names that resolve inside the network pass the early check; the connect-time guard refuses them.
            let named = try await h.adminCall("PUT", "/admin/v1/tenants/acme/idps/partner", body: Harness.idpBody(issuer: "https://partner.example", jwksURI: "https://idp.loopback-name.test:\(port)/jwks.json"))
            #expect(named.text.contains("refused_address"), "\(named.text)")
            // Plain http to a host not listed as insecure.
            let http = try await h.adminCall("PUT", "/admin/v1/tenants/acme/idps/partner", body: Harness.idpBody(issuer: "https://partner.example", jwksURI: "http://idp.example.com/jwks.json"))
            #expect(http.status == 422)
            #expect(partner.jwksRequests == 0 && partner.discoveryRequests == 0, "no refused URL was ever fetched")
            #expect(try await h.adminCall("GET", "/admin/v1/tenants/acme/idps/partner").status == 404)
            try await partner.shutdown()
        }
    }
}
