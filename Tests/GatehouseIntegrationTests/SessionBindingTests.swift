import GatehouseCore
import GatehouseDemo
import NIOHTTP1
import Testing

/// docs/sessions-and-oauth.md "Session binding" from outside: a session started by one user can never be used by another.
@Suite(.serialized) struct SessionBindingTests {
    static let mcp = "Mcp-Session-Id"
    static let runtime = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"

    /// Alice opens a session: the instance that answers issues `Mcp-Session-Id: <id>`.
    func openSession(_ h: Harness, id: String, user: String = "alice") async throws -> (status: Int, instance: EchoAgent) {
        for agent in h.acme { agent.setResponseHeaders(HTTPHeaders([(Self.mcp, id)])) }
        let r = try await h.client.request("POST", "/t/acme/mcp", headers: [h.bearer(h.token(user))], body: "{}")
        for agent in h.acme { agent.setResponseHeaders([:]) }
        let instance = h.acme.first { !$0.received().isEmpty }!
        return (r.status, instance)
    }

    @Test func aServerIssuedSessionIsStickyAndOnlyItsOwnerGetsThrough() async throws {
        try await withHarness { h in
            let opened = try await openSession(h, id: "sess-1")
            #expect(opened.status == 200)
            let home = opened.instance
            let other = h.acme.first { $0 !== home }!
            // The binding is durable before the client saw the response.
            let rows = try await h.gatehouse.store.loadBindings(now: SystemWallClock.now())
            #expect(rows.contains { $0.key.id == "sess-1" && $0.principal.subject == "alice" && $0.upstream == "127.0.0.1:\(home.port)" })

            for agent in h.acme { agent.reset() }
            for _ in 0..<4 {
                let r = try await h.client.request("POST", "/t/acme/mcp", headers: [h.bearer(h.token("alice")), (Self.mcp, "sess-1")], body: "{}")
                #expect(r.status == 200)
            }
            #expect(home.received().count == 4, "every request of the session goes to the instance that issued it")
            #expect(other.received().isEmpty)

            // Bob (same tenant, valid token) replaying alice's session id: 404, never forwarded.
            let bob = try await h.client.request("POST", "/t/acme/mcp", headers: [h.bearer(h.token("bob")), (Self.mcp, "sess-1")], body: "{}")
            #expect(bob.status == 404)
            #expect(bob.json?["error"] == .string("session_not_found"))
            let bobUnderscore = try await h.client.request("POST", "/t/acme/mcp", headers: [h.bearer(h.token("bob")), ("mcp_session_id", "sess-1")], body: "{}")
            #expect(bobUnderscore.status == 404)
            // An unknown id: the same answer.
            let unknown = try await h.client.request("POST", "/t/acme/mcp", headers: [h.bearer(h.token("alice")), (Self.mcp, "never-issued")], body: "{}")
            #expect(unknown.status == 404)
            #expect(unknown.json?["error"] == .string("session_not_found"))
            #expect(home.received().count == 4 && other.received().isEmpty, "refused requests never reach an upstream")

            // The same id in another tenant is an unrelated row: unknown there.
            let globex = try await h.client.request("POST", "/t/globex/mcp", headers: [h.bearer(h.token("alice", tenant: "globex")), (Self.mcp, "sess-1")], body: "{}")
            #expect(globex.status == 404)
            #expect(h.globex.received().isEmpty)

            let m = try await h.admin.request("GET", "/metrics")
            #expect(m.text.contains("gatehouse_session_bindings_active{tenant=\"acme\"} 1"))
            #expect(m.text.contains("gatehouse_session_rejections_total{tenant=\"acme\",reason=\"other_principal\"} 2"))
        }
    }

    @Test func deleteAnsweredWithSuccessEndsTheBinding() async throws {
        try await withHarness { h in
            _ = try await openSession(h, id: "sess-del")
            let del = try await h.client.request("DELETE", "/t/acme/mcp", headers: [h.bearer(h.token("alice")), (Self.mcp, "sess-del")])
            #expect(del.status == 200)
            let after = try await h.client.request("POST", "/t/acme/mcp", headers: [h.bearer(h.token("alice")), (Self.mcp, "sess-del")], body: "{}")
            #expect(after.status == 404)
            let gone = await eventually { (try? await h.gatehouse.store.loadBindings(now: SystemWallClock.now()))?.isEmpty == true }
            #expect(gone)
        }
    }

    @Test func anUpstream404ForTheSessionEndsTheBinding() async throws {
        try await withHarness { h in
            let opened = try await openSession(h, id: "sess-404")
            opened.instance.setFixedResponse(.json(status: .notFound, .object(["error": .string("unknown session")])))
            let r = try await h.client.request("POST", "/t/acme/mcp", headers: [h.bearer(h.token("alice")), (Self.mcp, "sess-404")], body: "{}")
            #expect(r.status == 404)
            opened.instance.setFixedResponse(nil)
            let again = try await h.client.request("POST", "/t/acme/mcp", headers: [h.bearer(h.token("alice")), (Self.mcp, "sess-404")], body: "{}")
            #expect(again.json?["error"] == .string("session_not_found"))
        }
    }

    @Test func aClientIssuedSessionIsBoundOnFirstUseAndForbiddenToOthers() async throws {
        try await withHarness { h in
            let first = try await h.client.request("POST", "/t/acme/invocations", headers: [h.bearer(h.token("alice")), (Self.runtime, "runtime-session-0001")], body: "{}")
            #expect(first.status == 200)
            let bob = try await h.client.request("POST", "/t/acme/invocations", headers: [h.bearer(h.token("bob")), (Self.runtime, "runtime-session-0001")], body: "{}")
            #expect(bob.status == 403)
            #expect(bob.json?["error"] == .string("session_forbidden"))
            let again = try await h.client.request("POST", "/t/acme/invocations", headers: [h.bearer(h.token("alice")), (Self.runtime, "runtime-session-0001")], body: "{}")
            #expect(again.status == 200)
            #expect(h.acme.flatMap { $0.received() }.count == 2, "bob's request never reached an upstream")
            // A 404 from the upstream does not free a client-issued id for someone else.
            for agent in h.acme { agent.setFixedResponse(.json(status: .notFound, .object([:]))) }
            _ = try await h.client.request("GET", "/t/acme/nope", headers: [h.bearer(h.token("alice")), (Self.runtime, "runtime-session-0001")])
            for agent in h.acme { agent.setFixedResponse(nil) }
            let bobAgain = try await h.client.request("POST", "/t/acme/invocations", headers: [h.bearer(h.token("bob")), (Self.runtime, "runtime-session-0001")], body: "{}")
            #expect(bobAgain.status == 403)
        }
    }

    @Test func malformedOrRepeatedSessionHeadersAre400() async throws {
        try await withHarness { h in
            let twice = try await h.client.request("POST", "/t/acme/mcp", headers: [h.bearer(h.token()), (Self.mcp, "a"), ("mcp_session_id", "b")], body: "{}")
            #expect(twice.status == 400)
            let long = try await h.client.request("POST", "/t/acme/mcp", headers: [h.bearer(h.token()), (Self.mcp, String(repeating: "x", count: 300))], body: "{}")
            #expect(long.status == 400)
            #expect(h.upstreamRequests.isEmpty)
        }
    }
}
