import GatehouseCore
import GatehouseDemo
import Testing

/// docs/configuration.md "Configuration walk-through", docs/request-path.md "Token validation", docs/status-codes.md "What Gatehouse answers itself" seen from a client: status codes, WWW-Authenticate, tenant resolution.
@Suite(.serialized) struct AuthenticationTests {
    @Test func noTokenIs401WithResourceMetadata() async throws {
        try await withHarness { h in
            let r = try await h.client.request("GET", "/t/acme/x")
            #expect(r.status == 401)
            let challenge = try #require(r.header("WWW-Authenticate"))
            #expect(challenge.hasPrefix("Bearer realm=\"gatehouse\""))
            #expect(challenge.contains("resource_metadata=\"http://localhost/.well-known/oauth-protected-resource/t/acme\""))
            #expect(!challenge.contains("error="))
            #expect(r.header("Content-Type") == "application/json")
            #expect(r.json?["error"] != nil)
        }
    }

    @Test func aTokenOfTenantAIsRefusedAtTenantB() async throws {
        try await withHarness { h in
            let token = h.token("alice", tenant: "acme")
            let byPath = try await h.client.request("GET", "/t/globex/x", headers: [h.bearer(token)])
            #expect(byPath.status == 401)
            #expect(byPath.header("WWW-Authenticate")?.contains("error=\"invalid_token\"") == true)
            #expect(byPath.json?["error"] == .string("invalid_token"))
            let byHost = try await h.client.request("GET", "/x", headers: [h.bearer(token)], host: "globex.test")
            #expect(byHost.status == 401)
            #expect(h.upstreamRequests.isEmpty)
        }
    }

    @Test func hostWinsOverPathPrefix() async throws {
        try await withHarness { h in
            // Host says acme: the globex-looking path is just a path on acme's upstream.
            let r = try await h.client.request("GET", "/t/globex/x", headers: [h.bearer(h.token(tenant: "acme"))], host: "acme.test")
            #expect(r.status == 200)
            #expect(h.acme.flatMap { $0.received() }.first?.uri == "/t/globex/x")
        }
    }

    @Test func issuerRoutingPicksTheOneTenantWhoseRulesAccept() async throws {
        try await withHarness { h in
            let r = try await h.client.request(
                "GET", "/anything", headers: [h.bearer(h.token("bob", tenant: "globex")), ("X-User-Id", "mallory"), ("x_tenant_id", "acme")])
            #expect(r.status == 200)
            #expect(h.globex.received().first?.headers["x-tenant-id"] == ["globex"])
            #expect(h.globex.received().first?.headers["x-user-id"] == ["bob"], "spoofed headers are stripped on issuer-routed requests too")
            #expect(h.globex.received().first?.headers["x_tenant_id"].isEmpty == true)
            #expect(h.acme.flatMap { $0.received() }.isEmpty)
        }
    }

    @Test func aTokenTwoTenantsWouldAcceptIsRefusedNeverGuessed() async throws {
        try await withHarness({ setup, idp, agents in
            setup.tenants = [
                Harness.tenant("acme", idp: idp, upstreams: [agents[0]], claimsRule: false),
                Harness.tenant("globex", idp: idp, upstreams: [agents[2]], claimsRule: false),
            ]
        }) { h in
            let r = try await h.client.request("GET", "/anything", headers: [h.bearer(h.token())])
            #expect(r.status == 401)
            #expect(h.upstreamRequests.isEmpty)
            // With the tenant named by path, the same token is fine.
            let r2 = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token())])
            #expect(r2.status == 200)
        }
    }

    @Test func expiredTamperedAndForeignTokensAre401() async throws {
        try await withHarness { h in
            var expired = h.idp.standardClaims()
            expired["exp"] = .number(String(Int(SystemWallClock.now()) - 3600))
            // One bit of the signature flipped: always a different signature (replacing the last
            // characters with "AA" was no change at all when the signature already ended so).
            let original = h.token()
            let good = original.split(separator: ".").map(String.init)
            var signature = Base64URL.decode(good[2]) ?? []
            signature[signature.count / 2] ^= 0x01
            let tampered = [good[0], good[1], Base64URL.encode(signature)].joined(separator: ".")
            #expect(tampered != original && !signature.isEmpty)
            let tokens = [
                h.idp.mintToken(claims: expired),
                tampered,
                h.idp.mintToken(claims: h.idp.standardClaims().merging(["iss": .string("https://evil.example")]) { $1 }),
                h.idp.mintToken(claims: h.idp.standardClaims(clientID: "someone-else")),
                "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
                String(repeating: "a", count: 9000),
            ]
            for token in tokens {
                let r = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(token)])
                #expect(r.status == 401)
                #expect(r.header("WWW-Authenticate")?.contains("invalid_token") == true)
                #expect(!r.text.contains(token.prefix(40)), "the response must not echo the token")
            }
            #expect(h.upstreamRequests.isEmpty)
        }
    }

    @Test func missingScopeIs403InsufficientScope() async throws {
        try await withHarness({ setup, _, _ in setup.tenants[0].idps[0].requiredScopes = ["agents:invoke"] }) { h in
            let r = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token(scope: "openid"))])
            #expect(r.status == 403)
            #expect(r.header("WWW-Authenticate")?.contains("error=\"insufficient_scope\", scope=\"agents:invoke\"") == true)
            let ok = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token(scope: "openid agents:invoke"))])
            #expect(ok.status == 200)
        }
    }

    @Test func tokensAreTakenFromTheHeaderOnlyNeverTheQuery() async throws {
        try await withHarness { h in
            let r = try await h.client.request("GET", "/t/acme/x?access_token=\(h.token())")
            #expect(r.status == 401)
            let basic = try await h.client.request("GET", "/t/acme/x", headers: [("Authorization", "Basic YWxpY2U6cHc=")])
            #expect(basic.status == 401)
        }
    }

    @Test func protectedResourceMetadataPerTenant() async throws {
        try await withHarness({ setup, _, _ in setup.tenants[0].idps[0].requiredScopes = ["agents:invoke"] }) { h in
            let r = try await h.client.request("GET", "/.well-known/oauth-protected-resource/t/acme")
            #expect(r.status == 200)
            let doc = try #require(r.json)
            #expect(doc["resource"] == .string("http://localhost/t/acme"))
            #expect(doc["authorization_servers"] == .array([.string(h.idp.issuer)]))
            #expect(doc["scopes_supported"] == .array([.string("agents:invoke")]))
            #expect(doc["bearer_methods_supported"] == .array([.string("header")]))
            #expect(doc["resource_name"] == .string("Acme"))
            let byHost = try await h.client.request("GET", "/.well-known/oauth-protected-resource", host: "globex.test")
            #expect(byHost.json?["resource"] == .string("http://globex.test"))
            let unknown = try await h.client.request("GET", "/.well-known/oauth-protected-resource/nope")
            #expect(unknown.status == 404)
        }
    }

    @Test func behindATLSTerminatingBalancerPublicSchemeIsWhatClientsAndAgentsSee() async throws {
        try await withHarness({ setup, _, _ in setup.settings.publicScheme = "https" }) { h in
            let doc = try await h.client.request("GET", "/.well-known/oauth-protected-resource/t/acme")
            #expect(doc.json?["resource"] == .string("https://localhost/t/acme"))
            let challenge = try await h.client.request("GET", "/t/acme/x")
            #expect(challenge.status == 401)
            #expect(challenge.header("WWW-Authenticate")?.contains("resource_metadata=\"https://localhost/.well-known/oauth-protected-resource/t/acme\"") == true)
            // A client's own X-Forwarded-Proto is not believed: the setting is the only source.
            let r = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token()), ("X-Forwarded-Proto", "gopher")])
            #expect(r.status == 200)
            #expect(h.acme.flatMap { $0.received() }.first?.headers["x-forwarded-proto"] == ["https"])
        }
        // Without the setting, the listener's scheme.
        try await withHarness { h in
            _ = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token()), ("X-Forwarded-Proto", "https")])
            #expect(h.acme.flatMap { $0.received() }.first?.headers["x-forwarded-proto"] == ["http"])
        }
    }

    @Test func assertionKeysArePublished() async throws {
        try await withHarness { h in
            let r = try await h.client.request("GET", "/.gatehouse/jwks.json")
            #expect(r.status == 200)
            let keys = try #require(r.json?["keys"]?.arrayValue)
            #expect(keys.count >= 1)
            #expect(keys.first?["alg"] == .string("ES256"))
            #expect(keys.first?["d"] == nil, "never the private part")
        }
    }

    @Test func badHostHeadersAreRefused() async throws {
        try await withHarness { h in
            let r = try await h.client.send("GET /t/acme/x HTTP/1.1\r\nHost: a\"b\r\nConnection: close\r\n\r\n")
            #expect(r.status == 400)
            let two = try await h.client.send("GET /t/acme/x HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n")
            #expect(two.status == 400)
        }
    }
}
