import Foundation
import GatehouseCore
import GatehouseDemo
import NIOHTTP1
import Testing

/// docs/sessions-and-oauth.md "Verified OAuth 3-legged flows" from outside: the user who started an OAuth flow is the only one who can finish it.
@Suite(.serialized) struct OAuthFlowTests {
    /// acme completes its flows at its first agent's `/oauth/complete`.
    static func withFlows(clock: TestClock? = nil, _ body: (Harness) async throws -> Void) async throws {
        try await withHarness({ setup, _, agents in
            setup.tenants[0].oauth = OAuthSettings(completionURL: agents[0].baseURL + "/oauth/complete", flowTTLSeconds: 600)
            setup.tenants[1].oauth = OAuthSettings(completionURL: agents[2].baseURL + "/oauth/complete", flowTTLSeconds: 600)
            if let clock { setup.clock = clock.now }
        }, body)
    }

    static func completions(_ h: Harness) -> [RecordedRequest] {
        (h.acme + [h.globex]).flatMap { $0.received() }.filter { $0.uri == "/oauth/complete" }
    }

    func createFlow(_ h: Harness, token: String, sessionID: String = "flow-1", url: String = "https://provider.example/authorize?client=1") async throws -> RawClient.Response {
        try await h.client.request(
            "POST", "/.gatehouse/oauth/flows", headers: [h.bearer(token), ("Content-Type", "application/json")],
            body: #"{"session_id":"\#(sessionID)","authorization_url":"\#(url)"}"#, host: "acme.test")
    }

    /// Follows the start URL like a browser; returns the `Cookie` header value to send back.
    func start(_ h: Harness, _ created: RawClient.Response) async throws -> (location: String?, cookie: String) {
        let startURL = try #require(created.json?["start_url"]?.stringValue)
        let path = String(startURL.drop { $0 != "/" }.dropFirst(2).drop { $0 != "/" })
        let r = try await h.client.request("GET", path, host: "acme.test")
        #expect(r.status == 302)
        let setCookie = try #require(r.header("Set-Cookie"))
        #expect(setCookie.contains("HttpOnly"))
        #expect(setCookie.lowercased().contains("samesite=lax"))
        return (r.header("Location"), String(setCookie.prefix { $0 != ";" }))
    }

    @Test func behindATLSTerminatingBalancerTheStartURLIsHTTPSAndTheCookieSecure() async throws {
        try await withHarness({ setup, _, agents in
            setup.tenants[0].oauth = OAuthSettings(completionURL: agents[0].baseURL + "/oauth/complete", flowTTLSeconds: 600)
            setup.settings.publicScheme = "https"
        }) { h in
            let created = try await createFlow(h, token: h.token("alice"))
            #expect(created.json?["start_url"]?.stringValue?.hasPrefix("https://acme.test/.gatehouse/oauth/start/") == true)
            let startURL = try #require(created.json?["start_url"]?.stringValue)
            let path = String(startURL.drop { $0 != "/" }.dropFirst(2).drop { $0 != "/" })
            let r = try await h.client.request("GET", path, host: "acme.test")
            #expect(r.header("Set-Cookie")?.contains("; Secure") == true)
        }
        // On a plain-HTTP listener without the setting, the cookie could not be Secure.
        try await Self.withFlows { h in
            let created = try await createFlow(h, token: h.token("alice"))
            #expect(created.json?["start_url"]?.stringValue?.hasPrefix("http://acme.test/") == true)
            let startURL = try #require(created.json?["start_url"]?.stringValue)
            let r = try await h.client.request("GET", String(startURL.dropFirst("http://acme.test".count)), host: "acme.test")
            #expect(r.status == 302)
            #expect(r.header("Set-Cookie")?.contains("Secure") == false)
        }
    }

    /// A callback that names a tenant (Host, then path prefix) completes only that tenant's
    /// flows: another tenant's flow is unknown there, cookie or not, and nothing is sent.
    @Test func aCallbackRoutedByHostCompletesOnlyItsTenantsFlows() async throws {
        try await Self.withFlows { h in
            let bob = h.token("bob", tenant: "globex")
            let created = try await h.client.request(
                "POST", "/.gatehouse/oauth/flows", headers: [h.bearer(bob), ("Content-Type", "application/json")],
                body: #"{"session_id":"flow-g","authorization_url":"https://provider.example/a"}"#, host: "globex.test")
            #expect(created.status == 201)
            let startURL = try #require(created.json?["start_url"]?.stringValue)
            #expect(startURL.hasPrefix("http://globex.test/.gatehouse/oauth/start/"))
            let startPath = String(startURL.dropFirst("http://globex.test".count))
            // Opened on another tenant's host: unknown there.
            #expect(try await h.client.request("GET", startPath, host: "acme.test").status == 404)
            let started = try await h.client.request("GET", startPath, host: "globex.test")
            #expect(started.status == 302)
            let cookie = String(try #require(started.header("Set-Cookie")).prefix { $0 != ";" })

            let elsewhere = try await h.client.request(
                "GET", "/.gatehouse/oauth/callback?session_id=flow-g", headers: [("Cookie", cookie)], host: "acme.test")
            #expect(elsewhere.status == 404, "\(elsewhere.text)")
            #expect(Self.completions(h).isEmpty)
            let home = try await h.client.request(
                "GET", "/.gatehouse/oauth/callback?session_id=flow-g", headers: [("Cookie", cookie)], host: "globex.test")
            #expect(home.status == 200)
            #expect(Self.completions(h).count == 1)
        }
    }

    @Test func aCallbackRoutedByPathPrefixCompletesOnlyItsTenantsFlows() async throws {
        try await Self.withFlows { h in
            let bob = h.token("bob", tenant: "globex")
            let created = try await h.client.request(
                "POST", "/t/globex/.gatehouse/oauth/flows", headers: [h.bearer(bob), ("Content-Type", "application/json")],
                body: #"{"session_id":"flow-p","authorization_url":"https://provider.example/a"}"#)
            #expect(created.status == 201, "\(created.text)")
            let startURL = try #require(created.json?["start_url"]?.stringValue)
            #expect(startURL.hasPrefix("http://localhost/t/globex/.gatehouse/oauth/start/"), "\(startURL)")
            let startPath = String(startURL.dropFirst("http://localhost".count))
            #expect(try await h.client.request("GET", startPath.replacingOccurrences(of: "/t/globex/", with: "/t/acme/")).status == 404)
            let started = try await h.client.request("GET", startPath)
            #expect(started.status == 302)
            let setCookie = try #require(started.header("Set-Cookie"))
            #expect(setCookie.contains("Path=/t/globex/.gatehouse/oauth/"), "\(setCookie)")
            let cookie = String(setCookie.prefix { $0 != ";" })

            let elsewhere = try await h.client.request(
                "GET", "/t/acme/.gatehouse/oauth/callback?session_id=flow-p", headers: [("Cookie", cookie)])
            #expect(elsewhere.status == 404, "\(elsewhere.text)")
            #expect(Self.completions(h).isEmpty)
            #expect(h.acme.flatMap { $0.received() }.isEmpty, "the callback was forwarded to acme's agent")
            let home = try await h.client.request(
                "GET", "/t/globex/.gatehouse/oauth/callback?session_id=flow-p", headers: [("Cookie", cookie)])
            #expect(home.status == 200, "\(home.text)")
            #expect(Self.completions(h).count == 1)
        }
    }

    @Test func theStarterCompletesItsFlowOnceAndTheTokenReachesTheCompletionURL() async throws {
        try await Self.withFlows { h in
            let alice = h.token("alice")
            let created = try await createFlow(h, token: alice)
            #expect(created.status == 201)
            let (location, cookie) = try await start(h, created)
            #expect(location == "https://provider.example/authorize?client=1")

            let done = try await h.client.request("GET", "/.gatehouse/oauth/callback?session_id=flow-1", headers: [("Cookie", cookie)], host: "acme.test")
            #expect(done.status == 200)
            #expect(done.header("Content-Type")?.hasPrefix("text/html") == true)
            let posts = Self.completions(h)
            #expect(posts.count == 1)
            let sent = try #require(try? JSONParser.parse(posts[0].body))
            #expect(sent["session_id"] == .string("flow-1"))
            #expect(sent["user_token"] == .string(alice))
            #expect(sent["tenant"] == .string("acme"))
            #expect(sent["sub"] == .string("alice"))

            // Replay: refused, nothing more sent.
            let replay = try await h.client.request("GET", "/.gatehouse/oauth/callback?session_id=flow-1", headers: [("Cookie", cookie)], host: "acme.test")
            #expect((400..<500).contains(replay.status))
            #expect(Self.completions(h).count == 1)
        }
    }

    @Test func noCookieAnotherUserOrAnotherTenantCannotComplete() async throws {
        try await Self.withFlows { h in
            let created = try await createFlow(h, token: h.token("alice"))
            _ = try await start(h, created)
            let noCookie = try await h.client.request("GET", "/.gatehouse/oauth/callback?session_id=flow-1", host: "acme.test")
            #expect(noCookie.status == 403)
            let forged = try await h.client.request("GET", "/.gatehouse/oauth/callback?session_id=flow-1", headers: [("Cookie", "gh_flow=forged")], host: "acme.test")
            #expect(forged.status == 403)
            let bob = try await h.client.request("GET", "/.gatehouse/oauth/callback?session_id=flow-1", headers: [h.bearer(h.token("bob"))], host: "acme.test")
            #expect(bob.status == 403)
            let otherTenant = try await h.client.request("GET", "/.gatehouse/oauth/callback?session_id=flow-1", headers: [h.bearer(h.token("alice", tenant: "globex"))])
            #expect((400..<500).contains(otherTenant.status))
            #expect(Self.completions(h).isEmpty)
            // The owner's own bearer token is proof enough.
            let owner = try await h.client.request("GET", "/.gatehouse/oauth/callback?session_id=flow-1", headers: [h.bearer(h.token("alice"))], host: "acme.test")
            #expect(owner.status == 200)
            #expect(Self.completions(h).count == 1)
        }
    }

    @Test func anExpiredFlowCannotComplete() async throws {
        let clock = TestClock()
        try await Self.withFlows(clock: clock) { h in
            let created = try await createFlow(h, token: h.token("alice"))
            let (_, cookie) = try await start(h, created)
            clock.advance(601)
            let late = try await h.client.request("GET", "/.gatehouse/oauth/callback?session_id=flow-1", headers: [("Cookie", cookie)], host: "acme.test")
            #expect((400..<500).contains(late.status))
            #expect(Self.completions(h).isEmpty)
        }
    }

    @Test func flowCreationValidatesItsInput() async throws {
        try await Self.withFlows { h in
            let bad = try await createFlow(h, token: h.token("alice"), url: "javascript:alert(1)")
            #expect(bad.status == 422)
            let noAuth = try await h.client.request("POST", "/.gatehouse/oauth/flows", body: "{}", host: "acme.test")
            #expect(noAuth.status == 401)
            let garbage = try await h.client.request("POST", "/.gatehouse/oauth/flows", headers: [h.bearer(h.token("alice"))], body: "{not json", host: "acme.test")
            #expect((400..<500).contains(garbage.status))
            // Refused while the body is still arriving (only 70 kB of the announced 200 kB is sent):
            // a flow body is never buffered up to the general body limit.
            let big = try await h.client.send(
                "POST /.gatehouse/oauth/flows HTTP/1.1\r\nHost: acme.test\r\nAuthorization: Bearer \(h.token("alice"))\r\nContent-Length: 200000\r\n\r\n"
                    + String(repeating: "x", count: 70_000), timeout: 5)
            #expect(big.status == 413)
            let get = try await h.client.request("GET", "/.gatehouse/oauth/flows", headers: [h.bearer(h.token("alice"))], host: "acme.test")
            #expect(get.status == 405)
            #expect(Self.completions(h).isEmpty)
        }
    }

    @Test func anUpstreamElicitationBecomesAFlowOnlyItsCallerCanComplete() async throws {
        try await Self.withFlows { h in
            let elicitation: JSONValue = .object([
                "jsonrpc": .string("2.0"), "id": .number("3"),
                "error": .object([
                    "code": .number("-32042"), "message": .string("authorization required"),
                    "data": .object(["elicitations": .array([.object([
                        "mode": .string("url"), "elicitationId": .string("elicit-42"), "url": .string("https://provider.example/consent"),
                    ])])]),
                ]),
            ])
            for agent in h.acme { agent.setFixedResponse(.json(status: .ok, elicitation)) }
            let call = try await h.client.request("POST", "/t/acme/mcp", headers: [h.bearer(h.token("alice"))], body: "{}")
            #expect(call.status == 200)
            #expect(call.json?["error"]?["code"] == .number("-32042"), "the response itself goes through untouched")
            for agent in h.acme { agent.setFixedResponse(nil) }

            let recorded = await eventually {
                (try? await h.gatehouse.store.flow(tenant: TenantID("acme")!, sessionID: "elicit-42")) != nil
            }
            #expect(recorded)
            let bob = try await h.client.request("GET", "/.gatehouse/oauth/callback?session_id=elicit-42", headers: [h.bearer(h.token("bob"))], host: "acme.test")
            #expect(bob.status == 403)
            let alice = try await h.client.request("GET", "/.gatehouse/oauth/callback?session_id=elicit-42", headers: [h.bearer(h.token("alice"))], host: "acme.test")
            #expect(alice.status == 200)
            #expect(Self.completions(h).count == 1)
        }
    }
}
