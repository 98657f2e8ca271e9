import GatehouseCore
import GatehouseDemo
import Testing

/// docs/request-path.md "What an agent receives": what the upstream receives, and what it never receives.
@Suite(.serialized) struct PropagationTests {
    @Test func validTokenReachesItsTenantWithTheVerifiedIdentity() async throws {
        try await withHarness { h in
            let r = try await h.client.request("GET", "/t/acme/hello?x=1", headers: [h.bearer(h.token("alice"))])
            #expect(r.status == 200)
            let seen = try #require(h.acme.flatMap { $0.received() }.first)
            #expect(seen.uri == "/hello?x=1")
            #expect(seen.header("X-Tenant-Id") == "acme")
            #expect(seen.header("X-User-Id") == "alice")
            #expect(seen.header("X-User-Email") == "alice@acme.example")
            #expect(seen.authorizationPresent)
            #expect(seen.assertion.present)
            #expect(seen.assertion.verified, "assertion error: \(seen.assertion.error ?? "-")")
            #expect(seen.assertion.claims?["sub"] == .string("alice"))
            #expect(seen.assertion.claims?["tenant"] == .string("acme"))
            #expect(h.globex.received().isEmpty)
        }
    }

    @Test func spoofedIdentityHeadersAreStrippedInEverySpelling() async throws {
        try await withHarness { h in
            let r = try await h.client.request(
                "GET", "/t/acme/x",
                headers: [
                    h.bearer(h.token("alice")), ("X-User-Id", "mallory"), ("x_user_id", "mallory2"), ("X-TENANT-ID", "globex"),
                    ("X_Tenant_Id", "globex"), ("X-Gatehouse-Assertion", "forged"), ("x-gatehouse-anything", "1"),
                    ("X_Gatehouse_Other", "1"), ("X-User-Email", "boss@evil.example"), ("X-Roles", "admin"),
                ])
            #expect(r.status == 200)
            let seen = try #require(h.acme.flatMap { $0.received() }.first)
            #expect(seen.headers["x-user-id"] == ["alice"])
            #expect(seen.headers["x_user_id"].isEmpty)
            #expect(seen.headers["x-tenant-id"] == ["acme"])
            #expect(seen.headers["x_tenant_id"].isEmpty)
            #expect(seen.headers["x-user-email"] == ["alice@acme.example"])
            #expect(seen.headers["x-roles"].isEmpty, "the token has no roles claim, so the header must be absent")
            #expect(seen.headers["x-gatehouse-anything"].isEmpty)
            #expect(seen.headers["x_gatehouse_other"].isEmpty)
            #expect(seen.headers["x-gatehouse-assertion"].count == 1)
            #expect(seen.assertion.verified)
        }
    }

    @Test func requestsThatFailNeverReachTheUpstream() async throws {
        try await withHarness { h in
            let r1 = try await h.client.request("GET", "/t/acme/x", headers: [("X-User-Id", "mallory")])
            #expect(r1.status == 401)
            let r2 = try await h.client.request("GET", "/t/acme/x", headers: [("Authorization", "Bearer not.a.token"), ("X-User-Id", "mallory")])
            #expect(r2.status == 401)
            #expect(h.upstreamRequests.isEmpty)
        }
    }

    @Test func arrayClaimsJoinAndNonASCIIIsPercentEncoded() async throws {
        try await withHarness { h in
            var claims = h.idp.standardClaims(subject: "José", tenant: "acme", roles: ["admin", "ops"])
            claims["email"] = .string("jose@acme.example")
            let token = h.idp.mintToken(claims: claims)
            let r = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(token)])
            #expect(r.status == 200)
            let seen = try #require(h.acme.flatMap { $0.received() }.first)
            #expect(seen.header("X-User-Id") == "Jos%C3%A9")
            #expect(seen.header("X-Roles") == "admin,ops")
        }
    }

    @Test func aClaimWithAControlCharacterIsNeverSent() async throws {
        try await withHarness { h in
            var claims = h.idp.standardClaims(subject: "alice", tenant: "acme")
            claims["email"] = .string("alice@acme.example\r\nX-Tenant-Id: globex")
            let r = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.idp.mintToken(claims: claims))])
            #expect(r.status == 200)
            let seen = try #require(h.acme.flatMap { $0.received() }.first)
            #expect(seen.headers["x-user-email"].isEmpty)
            #expect(seen.headers["x-tenant-id"] == ["acme"])
        }
    }

    @Test func authorizationDropRemovesTheCallersToken() async throws {
        try await withHarness({ setup, _, _ in setup.tenants[0].authorization = .drop }) { h in
            let r = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token())])
            #expect(r.status == 200)
            let seen = try #require(h.acme.flatMap { $0.received() }.first)
            #expect(!seen.authorizationPresent)
        }
    }

    @Test func forwardingHeadersAndRequestIDs() async throws {
        try await withHarness { h in
            let r = try await h.client.request(
                "GET", "/t/acme/x",
                headers: [
                    h.bearer(h.token()), ("X-Request-Id", "client-id-1"), ("X-Forwarded-For", "203.0.113.9"),
                    ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ("Connection", "close, X-Hop"),
                    ("X-Hop", "secret"),
                ])
            #expect(r.status == 200)
            #expect(r.header("X-Request-Id") == "client-id-1")
            let seen = try #require(h.acme.flatMap { $0.received() }.first)
            #expect(seen.header("X-Request-Id") == "client-id-1")
            #expect(seen.header("X-Forwarded-For") == "203.0.113.9, 127.0.0.1")
            #expect(seen.header("X-Forwarded-Proto") == "http")
            #expect(seen.header("X-Forwarded-Host") == "localhost")
            #expect(seen.header("traceparent") == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            #expect(seen.header("X-Hop") == nil, "headers named in Connection are hop-by-hop")
            #expect(seen.header("Host") == "127.0.0.1:\(h.acme[0].port)" || seen.header("Host") == "127.0.0.1:\(h.acme[1].port)")

            let r2 = try await h.client.request("GET", "/t/acme/x", headers: [h.bearer(h.token()), ("X-Request-Id", "bad id with spaces\"")])
            let generated = try #require(r2.header("X-Request-Id"))
            #expect(generated != "bad id with spaces\"")
            #expect(generated.count == 16)
        }
    }

    @Test func preserveHostKeepsTheClientsHost() async throws {
        try await withHarness({ setup, _, _ in setup.tenants[0].preserveHost = true }) { h in
            let r = try await h.client.request("GET", "/x", headers: [h.bearer(h.token())], host: "acme.test")
            #expect(r.status == 200)
            #expect(h.acme.flatMap { $0.received() }.first?.header("Host") == "acme.test")
        }
    }
}
