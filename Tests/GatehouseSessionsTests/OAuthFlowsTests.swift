import Foundation
import GatehouseCore
import Testing

@testable import GatehouseSessions

@Suite("OAuth flows")
struct OAuthFlowsTests {
    typealias H = FlowHarness

    // MARK: - The whole flow

    @Test("create, start, callback with the cookie: one completion POST carrying the original token")
    func happyPath() async throws {
        let h = try H()
        let created = await h.flows.createFlow(
            tenant: h.tenants[H.acme]!, principal: H.principal(), userToken: H.token("alice"), sessionID: "sess-1",
            authorizationURL: H.authorizationURL, baseURL: H.baseURL + "/")
        #expect(created.status == 201)
        #expect(created.header("Content-Type") == "application/json")
        #expect(created.header("Cache-Control") == "no-store")
        let startURL = try #require(created.json?["start_url"]?.stringValue)
        #expect(startURL.hasPrefix("https://gw.example.com/.gatehouse/oauth/start/"))
        #expect(created.json?["expires_in"] == .number("600"))
        let handle = String(startURL.dropFirst("https://gw.example.com/.gatehouse/oauth/start/".count))
        #expect(handle.count == 43)

        let started = await h.flows.start(handle: handle, secure: false)
        #expect(started.status == 302)
        #expect(started.header("Location") == H.authorizationURL)
        #expect(started.header("Referrer-Policy") == "no-referrer")
        let setCookie = try #require(started.header("Set-Cookie"))
        #expect(setCookie.hasPrefix("gh_flow_"))
        #expect(setCookie.contains("; Path=/.gatehouse/oauth/; HttpOnly; SameSite=Lax; Max-Age=600"))
        #expect(!setCookie.contains("Secure"))
        let pair = setCookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1).map(String.init)

        let done = await h.callback("sess-1", cookies: [pair[0]: pair[1]])
        #expect(done.status == 200)
        #expect(done.reason == "flow_completed")
        #expect(done.header("Content-Type") == "text/html; charset=utf-8")
        #expect(done.header("Cache-Control") == "no-store")
        #expect(done.header("Referrer-Policy") == "no-referrer")
        #expect(done.text.contains("You can close this window"))

        let posts = h.poster.posts
        try #require(posts.count == 1)
        #expect(posts[0].url == "http://127.0.0.1:7001/complete/acme")
        #expect(
            posts[0].json
                == .object([
                    "session_id": .string("sess-1"), "user_token": .string(H.token("alice")), "tenant": .string("acme"),
                    "sub": .string("alice"),
                ]))
    }

    @Test("the start cookie is Secure when the request came over https")
    func secureCookie() async throws {
        let h = try H()
        let handle = try await h.create("sess-1")
        let started = await h.flows.start(handle: handle, secure: true)
        #expect(started.header("Set-Cookie")?.hasSuffix("; Secure") == true)
    }

    @Test("a replayed callback is 410 and sends nothing more")
    func replay() async throws {
        let h = try H()
        let cookie = try await h.start(try await h.create("sess-1"))
        #expect(await h.callback("sess-1", cookies: [cookie.name: cookie.value]).status == 200)
        let again = await h.callback("sess-1", cookies: [cookie.name: cookie.value])
        #expect(again.status == 410)
        #expect(await h.callback("sess-1").status == 410)
        #expect(h.poster.posts.count == 1)
        // Nor can the start URL be used again.
        #expect(await h.flows.start(handle: try #require(await h.store.row(H.acme, "sess-1")).startHandle, secure: false).status == 404)
    }

    // MARK: - Who may complete

    @Test("no cookie: 403, nothing sent, and the flow can still be completed by its browser")
    func noCookie() async throws {
        let h = try H()
        let cookie = try await h.start(try await h.create("sess-1"))
        let refused = await h.callback("sess-1")
        #expect(refused.status == 403)
        #expect(refused.header("Content-Type") == "text/html; charset=utf-8")
        #expect(h.poster.posts.isEmpty)
        #expect(await h.callback("sess-1", cookies: [cookie.name: cookie.value]).status == 200)
    }

    @Test("a wrong cookie secret, or another flow's cookie, is 403")
    func wrongCookie() async throws {
        let h = try H()
        let cookie = try await h.start(try await h.create("sess-1"))
        let other = try await h.start(try await h.create("sess-2"))
        #expect(other.name != cookie.name)
        #expect(await h.callback("sess-1", cookies: [cookie.name: FlowSecrets.random256()]).status == 403)
        #expect(await h.callback("sess-1", cookies: [cookie.name: ""]).status == 403)
        #expect(await h.callback("sess-1", cookies: [cookie.name: String(repeating: "A", count: 10_000)]).status == 403)
        #expect(await h.callback("sess-1", cookies: [cookie.name: other.value]).status == 403)
        #expect(await h.callback("sess-1", cookies: [other.name: other.value]).status == 403)
        #expect(await h.callback("sess-1", cookies: ["gh_flow": cookie.value]).status == 403)
        #expect(h.poster.posts.isEmpty)
    }

    @Test("a flow never started has no cookie that could match")
    func notStarted() async throws {
        let h = try H()
        _ = try await h.create("sess-1")
        #expect(await h.callback("sess-1", cookies: ["gh_flow_": ""]).status == 403)
        #expect(h.poster.posts.isEmpty)
    }

    @Test("an older cookie stops counting once the start URL is opened again")
    func restartRotatesCookie() async throws {
        let h = try H()
        let handle = try await h.create("sess-1")
        let first = try await h.start(handle)
        let second = try await h.start(handle)
        #expect(first.name == second.name)
        #expect(first.value != second.value)
        #expect(await h.callback("sess-1", cookies: [first.name: first.value]).status == 403)
        #expect(await h.callback("sess-1", cookies: [second.name: second.value]).status == 200)
    }

    @Test("another user's bearer token is 403; the owner's completes without any cookie")
    func bearer() async throws {
        let h = try H()
        _ = try await h.create("sess-1")
        let mallory = await h.callback("sess-1", bearer: H.principal(sub: "mallory"), bearerToken: H.token("mallory"))
        #expect(mallory.status == 403)
        // Same subject, another client or issuer: not the same principal.
        #expect(await h.callback("sess-1", bearer: H.principal(client: "other-app")).status == 403)
        var otherIssuer = H.principal()
        otherIssuer.issuer = "https://evil.example.com"
        #expect(await h.callback("sess-1", bearer: otherIssuer).status == 403)
        #expect(h.poster.posts.isEmpty)

        let alice = await h.callback("sess-1", bearer: H.principal(), bearerToken: H.token("alice"))
        #expect(alice.status == 200)
        #expect(h.poster.posts.count == 1)
        #expect(h.poster.posts.first?.json?["user_token"]?.stringValue == H.token("alice"))
    }

    @Test("the same user in another tenant cannot complete the flow")
    func otherTenantBearer() async throws {
        let h = try H()
        _ = try await h.create("sess-1", tenant: H.acme)
        let result = await h.callback("sess-1", bearer: H.principal(H.globex), bearerToken: H.token("alice"))
        #expect(result.status == 403)
        #expect(h.poster.posts.isEmpty)
    }

    @Test("one session id in two tenants: the cookie (or the bearer's tenant) picks the flow")
    func sameSessionIDInTwoTenants() async throws {
        let h = try H()
        let acmeCookie = try await h.start(try await h.create("shared", tenant: H.acme, sub: "alice"))
        let globexCookie = try await h.start(try await h.create("shared", tenant: H.globex, sub: "bob"))
        #expect(acmeCookie.name != globexCookie.name)

        let globex = await h.callback("shared", cookies: [globexCookie.name: globexCookie.value])
        #expect(globex.status == 200)
        #expect(h.poster.posts.last?.url == "http://127.0.0.1:7001/complete/globex")
        #expect(h.poster.posts.last?.json?["sub"]?.stringValue == "bob")

        let acme = await h.callback("shared", bearer: H.principal(H.acme, sub: "alice"), bearerToken: H.token("alice"))
        #expect(acme.status == 200)
        #expect(h.poster.posts.last?.url == "http://127.0.0.1:7001/complete/acme")
        #expect(h.poster.posts.count == 2)
        _ = acmeCookie
    }

    @Test("several flows started in one browser each complete with their own cookie")
    func concurrentFlowsInOneBrowser() async throws {
        let h = try H()
        let a = try await h.start(try await h.create("flow-a"))
        let b = try await h.start(try await h.create("flow-b"))
        let jar = [a.name: a.value, b.name: b.value]
        #expect(await h.callback("flow-b", cookies: jar).status == 200)
        #expect(await h.callback("flow-a", cookies: jar).status == 200)
        #expect(h.poster.posts.map { $0.json?["session_id"]?.stringValue } == ["flow-b", "flow-a"])
    }

    // MARK: - Expiry and unknown flows

    @Test("an expired flow is 410 at the callback and 404 at the start URL, and sends nothing")
    func expired() async throws {
        let h = try H()
        let handle = try await h.create("sess-1")
        let cookie = try await h.start(handle)
        h.clock.advance(600)
        let result = await h.callback("sess-1", cookies: [cookie.name: cookie.value])
        #expect(result.status == 410)
        #expect(await h.callback("sess-1").status == 410)
        #expect(await h.flows.start(handle: handle, secure: false).status == 404)
        #expect(h.poster.posts.isEmpty)
    }

    /// Lets Alice's flow expire and Mallory register the same session id while a start or
    /// callback of Alice's is between reading her flow and writing to it.
    private static func replaceWithMallorysFlowMidway(_ h: H) async {
        let flows = h.flows
        let clock = h.clock
        let acme = h.tenants[H.acme]!
        h.clock.advance(599)
        await h.store.interleave {
            clock.advance(1)
            _ = await flows.createFlow(
                tenant: acme, principal: H.principal(sub: "mallory"), userToken: H.token("mallory"), sessionID: "sess-1",
                authorizationURL: "https://evil.example.com/", baseURL: H.baseURL)
        }
    }

    @Test("a start URL opened while its flow is replaced gives the new owner's flow no cookie")
    func startRacingAReplacement() async throws {
        let h = try H()
        let handle = try await h.create("sess-1", sub: "alice")
        await Self.replaceWithMallorysFlowMidway(h)
        let started = await h.flows.start(handle: handle, secure: false)
        #expect(started.status == 404)
        #expect(started.header("Set-Cookie") == nil)
        let mallorys = try #require(await h.store.row(H.acme, "sess-1"))
        #expect(mallorys.principal.subject == "mallory")
        #expect(mallorys.cookieHash == nil)
    }

    @Test("a callback racing a replacement completes nothing: the new owner's flow stays live")
    func callbackRacingAReplacement() async throws {
        let h = try H()
        let handle = try await h.create("sess-1", sub: "alice")
        let cookie = try await h.start(handle)
        await Self.replaceWithMallorysFlowMidway(h)
        let result = await h.callback("sess-1", cookies: [cookie.name: cookie.value])
        #expect(result.status == 410)
        #expect(h.poster.posts.isEmpty)
        let mallorys = try #require(await h.store.row(H.acme, "sess-1"))
        #expect(mallorys.principal.subject == "mallory")
        #expect(mallorys.completedAt == nil)
        #expect(!mallorys.sealedUserToken.isEmpty)
    }

    @Test("the cookie lives as long as what is left of the flow")
    func cookieMaxAgeIsRemainingTTL() async throws {
        let h = try H()
        let handle = try await h.create("sess-1")
        h.clock.advance(100.5)
        let started = await h.flows.start(handle: handle, secure: false)
        #expect(started.header("Set-Cookie")?.hasSuffix("; Max-Age=500") == true)
    }

    @Test("unknown session ids and handles are 404 pages that reflect nothing")
    func unknown() async throws {
        let h = try H()
        let hostile = "<script>alert(1)</script>"
        let result = await h.callback(hostile)
        #expect(result.status == 404)
        #expect(!result.text.contains("script"))
        #expect(await h.callback("").status == 404)
        #expect(await h.callback("has space").status == 404)
        #expect(await h.flows.start(handle: FlowSecrets.random256(), secure: false).status == 404)
        let odd = await h.flows.start(handle: hostile, secure: false)
        #expect(odd.status == 404)
        #expect(!odd.text.contains("script"))
        #expect(odd.header("Set-Cookie") == nil)
    }

    @Test("sweep deletes expired flows and their tokens")
    func sweep() async throws {
        let h = try H()
        _ = try await h.create("old")
        h.clock.advance(300)
        _ = try await h.create("new")
        h.clock.advance(301)
        await h.flows.sweep()
        #expect(await h.store.row(H.acme, "old") == nil)
        #expect(await h.store.row(H.acme, "new") != nil)
    }

    // MARK: - Registration rules

    @Test("authorization URLs that are not absolute http(s) are 422 naming the field", arguments: [
        "javascript:alert(document.cookie)", "ftp://files.example.com/x", "/relative/path", "https://", "data:text/html,hi",
        "https://trusted.example.com@evil.example.com/", "https://provider.example.com/a b", "https://provider.example.com/\r\nX: y",
        "",
    ])
    func badAuthorizationURL(url: String) async throws {
        let h = try H()
        let result = await h.flows.createFlow(
            tenant: h.tenants[H.acme]!, principal: H.principal(), userToken: H.token("alice"), sessionID: "sess-1",
            authorizationURL: url, baseURL: H.baseURL)
        #expect(result.status == 422)
        #expect(result.json?["field"]?.stringValue == "authorization_url")
        #expect(await h.store.row(H.acme, "sess-1") == nil)
    }

    @Test("session ids that are not 1-256 visible ASCII characters are 422 naming the field", arguments: [
        "", "has space", "tab\there", "ünïcode", String(repeating: "x", count: 257),
    ])
    func badSessionID(id: String) async throws {
        let h = try H()
        let result = await h.flows.createFlow(
            tenant: h.tenants[H.acme]!, principal: H.principal(), userToken: H.token("alice"), sessionID: id,
            authorizationURL: H.authorizationURL, baseURL: H.baseURL)
        #expect(result.status == 422)
        #expect(result.json?["field"]?.stringValue == "session_id")
    }

    @Test("a tenant without oauth is 404 oauth_not_configured")
    func notConfigured() async throws {
        let h = try H()
        let result = await h.flows.createFlow(
            tenant: H.tenant(H.acme, oauth: false), principal: H.principal(), userToken: H.token("alice"), sessionID: "s",
            authorizationURL: H.authorizationURL, baseURL: H.baseURL)
        #expect(result.status == 404)
        #expect(result.json?["error"]?.stringValue == "oauth_not_configured")
        #expect(result.json?["error_description"] != nil)
    }

    @Test("a flow whose tenant lost its oauth settings cannot complete")
    func tenantLostOAuth() async throws {
        let h = try H()
        let cookie = try await h.start(try await h.create("sess-1"))
        h.tenants[H.acme] = H.tenant(H.acme, oauth: false)
        #expect(await h.callback("sess-1", cookies: [cookie.name: cookie.value]).status == 404)
        #expect(h.poster.posts.isEmpty)
    }

    @Test("another user cannot take over a live flow's session id (409), even a completed one, until it expires")
    func conflict() async throws {
        let h = try H()
        let handle = try await h.create("sess-1", sub: "alice")
        let taken = await h.flows.createFlow(
            tenant: h.tenants[H.acme]!, principal: H.principal(sub: "mallory"), userToken: H.token("mallory"), sessionID: "sess-1",
            authorizationURL: "https://evil.example.com/", baseURL: H.baseURL)
        #expect(taken.status == 409)
        #expect(await h.store.row(H.acme, "sess-1")?.startHandle == handle)

        _ = await h.callback("sess-1", bearer: H.principal())
        #expect(await h.flows.createFlow(
            tenant: h.tenants[H.acme]!, principal: H.principal(sub: "mallory"), userToken: H.token("mallory"), sessionID: "sess-1",
            authorizationURL: "https://evil.example.com/", baseURL: H.baseURL
        ).status == 409)

        h.clock.advance(600)
        #expect(try await h.create("sess-1", sub: "mallory").count == 43)
        #expect(await h.store.row(H.acme, "sess-1")?.principal.subject == "mallory")
    }

    @Test("the owner registering the same flow again gets the same start URL; after completion, a new flow")
    func sameOwnerAgain() async throws {
        let h = try H()
        let first = try await h.create("sess-1")
        #expect(try await h.create("sess-1") == first)
        // A live flow cannot be pointed somewhere else.
        #expect(await h.flows.createFlow(
            tenant: h.tenants[H.acme]!, principal: H.principal(), userToken: H.token("alice"), sessionID: "sess-1",
            authorizationURL: "https://elsewhere.example.com/", baseURL: H.baseURL
        ).status == 409)
        #expect(await h.callback("sess-1", bearer: H.principal()).status == 200)
        let second = try await h.create("sess-1")
        #expect(second != first)
        #expect(await h.callback("sess-1", bearer: H.principal()).status == 200)
        #expect(h.poster.posts.count == 2)
    }

    @Test("the raw body is parsed: bad JSON is 400, missing members 422, a good body 201")
    func createFromBody() async throws {
        let h = try H()
        func create(_ body: String) async -> FlowResult {
            await h.flows.createFlow(
                tenant: h.tenants[H.acme]!, principal: H.principal(), userToken: H.token("alice"), body: Array(body.utf8),
                baseURL: H.baseURL)
        }
        #expect(await create("not json").status == 400)
        #expect(await create("[1]").status == 400)
        #expect(await create(#"{"authorization_url": "https://p.example.com/"}"#).json?["field"]?.stringValue == "session_id")
        #expect(await create(#"{"session_id": 7, "authorization_url": "https://p.example.com/"}"#).status == 422)
        #expect(await create(#"{"session_id": "s"}"#).json?["field"]?.stringValue == "authorization_url")
        #expect(await create(#"{"session_id": "s", "authorization_url": "https://p.example.com/", "extra": true}"#).status == 201)
        #expect(await create(String(repeating: " ", count: 20_000) + "{}").status == 413)
    }

    @Test("a store that fails answers 503, never a completion")
    func storeFailure() async throws {
        let h = try H()
        let cookie = try await h.start(try await h.create("sess-1"))
        await h.store.setFailing(true)
        #expect(await h.callback("sess-1", cookies: [cookie.name: cookie.value]).status == 503)
        #expect(await h.flows.start(handle: FlowSecrets.random256(), secure: false).status == 503)
        let created = await h.flows.createFlow(
            tenant: h.tenants[H.acme]!, principal: H.principal(), userToken: H.token("alice"), sessionID: "sess-2",
            authorizationURL: H.authorizationURL, baseURL: H.baseURL)
        #expect(created.status == 503)
        #expect(h.poster.posts.isEmpty)
    }

    // MARK: - Completion failures

    @Test("a completion POST that fails is 502 and the flow stays completed (no second delivery)")
    func completionFails() async throws {
        let h = try H()
        h.poster.answer(fails: true)
        let cookie = try await h.start(try await h.create("sess-1"))
        let result = await h.callback("sess-1", cookies: [cookie.name: cookie.value])
        #expect(result.status == 502)
        #expect(result.header("Content-Type") == "text/html; charset=utf-8")
        h.poster.answer(status: 200)
        #expect(await h.callback("sess-1", cookies: [cookie.name: cookie.value]).status == 410)
        #expect(h.poster.posts.count == 1)
        #expect(await h.store.row(H.acme, "sess-1")?.completedAt != nil)
    }

    @Test("a completion URL answering non-2xx is 502")
    func completionRefused() async throws {
        let h = try H()
        h.poster.answer(status: 500)
        let cookie = try await h.start(try await h.create("sess-1"))
        #expect(await h.callback("sess-1", cookies: [cookie.name: cookie.value]).status == 502)
    }

    // MARK: - Elicitations seen in upstream responses

    @Test("an elicitation binds a flow to the caller; repeats keep it; others and junk are ignored")
    func recordElicitation() async throws {
        let h = try H()
        let tenant = h.tenants[H.acme]!
        let path = try #require(
            await h.flows.recordElicitation(
                tenant: tenant, principal: H.principal(), userToken: H.token("alice"), elicitationID: "elic-1",
                url: "https://provider.example.com/auth"))
        #expect(path.hasPrefix("/.gatehouse/oauth/start/"))
        let row = try #require(await h.store.row(H.acme, "elic-1"))
        #expect(row.principal == BoundPrincipal(H.principal()))
        #expect(row.authorizationURL == "https://provider.example.com/auth")

        let again = await h.flows.recordElicitation(
            tenant: tenant, principal: H.principal(), userToken: H.token("alice"), elicitationID: "elic-1",
            url: "https://provider.example.com/auth")
        #expect(again == path)
        let stolen = await h.flows.recordElicitation(
            tenant: tenant, principal: H.principal(sub: "mallory"), userToken: H.token("mallory"), elicitationID: "elic-1",
            url: "https://provider.example.com/auth")
        #expect(stolen == nil)
        #expect(await h.store.row(H.acme, "elic-1")?.principal.subject == "alice")

        for (id, url) in [("elic-2", "javascript:alert(1)"), ("bad id", "https://p.example.com/"), ("", "https://p.example.com/")] {
            #expect(await h.flows.recordElicitation(tenant: tenant, principal: H.principal(), userToken: "t", elicitationID: id, url: url) == nil)
        }
        #expect(
            await h.flows.recordElicitation(
                tenant: H.tenant(H.acme, oauth: false), principal: H.principal(), userToken: "t", elicitationID: "elic-3",
                url: "https://p.example.com/") == nil)

        let cookie = try await h.start(String(path.split(separator: "/").last!))
        #expect(await h.callback("elic-1", cookies: [cookie.name: cookie.value]).status == 200)
    }

    // MARK: - Tokens at rest and the key file

    @Test("the stored token is sealed (not the plaintext, bound to its flow) and erased on completion")
    func tokenAtRest() async throws {
        let h = try H()
        _ = try await h.create("sess-1")
        let row = try #require(await h.store.row(H.acme, "sess-1"))
        let plain = Array(H.token("alice").utf8)
        #expect(!row.sealedUserToken.isEmpty)
        #expect(!Self.contains(row.sealedUserToken, plain))
        #expect(!Self.contains(row.sealedUserToken, Array("signature-of-alice".utf8)))
        #expect(h.flows.sealer.open(row.sealedUserToken, tenant: H.acme, sessionID: "sess-1") == H.token("alice"))
        // The associated data binds the box to its flow.
        #expect(h.flows.sealer.open(row.sealedUserToken, tenant: H.acme, sessionID: "sess-2") == nil)
        #expect(h.flows.sealer.open(row.sealedUserToken, tenant: H.globex, sessionID: "sess-1") == nil)

        #expect(await h.callback("sess-1", bearer: H.principal()).status == 200)
        #expect(await h.store.row(H.acme, "sess-1")?.sealedUserToken.isEmpty == true)
    }

    @Test("two flows with the same token seal it differently (fresh nonce each time)")
    func freshNonces() async throws {
        let h = try H()
        _ = try await h.create("sess-1")
        _ = try await h.create("sess-2")
        let a = try #require(await h.store.row(H.acme, "sess-1")).sealedUserToken
        let b = try #require(await h.store.row(H.acme, "sess-2")).sealedUserToken
        #expect(a.prefix(12) != b.prefix(12))
    }

    @Test("the key file is created 0600 in a 0700 directory and reused by the next start")
    func keyFile() async throws {
        let h = try H()
        let path = h.keyDirectory + "/flow-token.key"
        #expect(fileMode(path) == 0o600)
        #expect(fileMode(h.keyDirectory) == 0o700)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(before.count == 32)
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: h.keyDirectory) == ["flow-token.key"])

        _ = try await h.create("sess-1")
        let restarted = try OAuthFlows(
            store: h.store, keyDirectory: h.keyDirectory + "/", completionPoster: h.poster, clock: h.clock.now, logger: H.logger)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        let result = await restarted.callback(
            sessionID: "sess-1", cookies: [:], bearerPrincipal: H.principal(), bearerToken: nil, tenants: h.tenants)
        #expect(result.status == 200)
        #expect(h.poster.posts.first?.json?["user_token"]?.stringValue == H.token("alice"))
    }

    @Test("a key file of the wrong size is an error, never silently replaced")
    func damagedKeyFile() throws {
        let h = try H()
        let path = h.keyDirectory + "/flow-token.key"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        #expect(throws: SealingKeyError.self) {
            try OAuthFlows(store: h.store, keyDirectory: h.keyDirectory, completionPoster: h.poster, clock: h.clock.now, logger: H.logger)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([1, 2, 3]))
    }

    @Test("with an unreadable sealed token the owner's bearer token is delivered instead")
    func unreadableTokenFallsBackToBearer() async throws {
        let h = try H()
        _ = try await h.create("sess-1")
        // Another key directory: the stored box no longer opens.
        let other = try OAuthFlows(
            store: h.store, keyDirectory: h.root + "/other-keys", completionPoster: h.poster, clock: h.clock.now, logger: H.logger)
        let withoutToken = await other.callback(
            sessionID: "sess-1", cookies: [:], bearerPrincipal: H.principal(), bearerToken: nil, tenants: h.tenants)
        #expect(withoutToken.status == 500)
        #expect(h.poster.posts.isEmpty)
        let withToken = await other.callback(
            sessionID: "sess-1", cookies: [:], bearerPrincipal: H.principal(), bearerToken: "fresh-token", tenants: h.tenants)
        #expect(withToken.status == 200)
        #expect(h.poster.posts.first?.json?["user_token"]?.stringValue == "fresh-token")
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }
}
