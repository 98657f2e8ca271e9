import GatehouseCore
import Testing

@testable import GatehouseIdentity

@Suite("Token verification: claims")
struct ClaimRuleTests {
    @Test("exp: past, missing, not a number")
    func expiry() async {
        let world = VerifierWorld()
        let now = Int(world.now)
        #expect(await world.refusal(world.token(claims: ["exp": .number(String(now - 3600))]))?.reason == "expired")
        #expect(await world.refusal(world.token(claims: ["exp": nil]))?.reason == "malformed")
        #expect(await world.refusal(world.token(claims: ["exp": .string(String(now + 300))]))?.reason == "malformed")
        #expect(await world.refusal(world.token(claims: ["exp": true]))?.reason == "malformed")
        #expect(await world.refusal(world.token(claims: ["exp": .number("1e400")]))?.reason == "malformed")
    }

    @Test("exp, nbf and iat out of range are malformed, never a crash", arguments: ["exp", "nbf", "iat"])
    func outOfRangeTimes(claim: String) async {
        let world = VerifierWorld()
        // Finite, so they pass an infinity check, yet far beyond what Int64 can hold.
        for text in ["1e300", "-1e300", "1e19", "-9.3e18", "1e15"] {
            #expect(await world.refusal(world.token(claims: [claim: .number(text)]))?.reason == "malformed", "\(claim) \(text)")
        }
    }

    @Test("nbf and iat in the future are refused")
    func futureTimes() async {
        let world = VerifierWorld()
        let later = JSONValue.number(String(Int(world.now) + 3600))
        #expect(await world.refusal(world.token(claims: ["nbf": later]))?.reason == "not_yet_valid")
        #expect(await world.refusal(world.token(claims: ["iat": later]))?.reason == "issued_in_future")
        #expect(await world.refusal(world.token(claims: ["nbf": "soon"]))?.reason == "malformed")
    }

    @Test("clock skew is honoured on both sides, and no further")
    func skew() async throws {
        var settings = IdentitySettings()
        settings.clockSkewSeconds = 60
        let world = VerifierWorld(settings: settings)
        let now = Int(world.now)
        func n(_ v: Int) -> JSONValue { .number(String(v)) }
        // Expired 59 s ago: within skew.
        #expect(try await world.verify(world.token(claims: ["exp": n(now - 59)])).subject == "user-1")
        #expect(await world.refusal(world.token(claims: ["exp": n(now - 61)]))?.reason == "expired")
        // Valid from 59 s in the future: within skew.
        #expect(try await world.verify(world.token(claims: ["nbf": n(now + 59), "iat": n(now + 59)])).subject == "user-1")
        #expect(await world.refusal(world.token(claims: ["nbf": n(now + 61)]))?.reason == "not_yet_valid")
        #expect(await world.refusal(world.token(claims: ["iat": n(now + 61)]))?.reason == "issued_in_future")
        // Fractional times are numbers too.
        #expect(try await world.verify(world.token(claims: ["exp": .number("\(now + 10).5")])).expiresAt == Int64(now + 10))
    }

    @Test("iss must equal the IdP's issuer exactly")
    func issuer() async {
        let world = VerifierWorld()
        for iss: JSONValue in [.string(Std.issuer + "/"), "https://IDP.example.com", "https://idp.example.com.evil", 42] {
            #expect(await world.refusal(world.token(claims: ["iss": iss]))?.reason == "unknown_issuer")
        }
        #expect(await world.refusal(world.token(claims: ["iss": nil]))?.reason == "unknown_issuer")
        // The reverse: an IdP configured with a trailing slash does not accept the bare issuer.
        #expect(await world.refusal(world.token(), idp: Std.idp(issuer: Std.issuer + "/"))?.reason == "unknown_issuer")
    }

    @Test("sub must be a non-empty string")
    func subject() async {
        let world = VerifierWorld()
        #expect(await world.refusal(world.token(claims: ["sub": ""]))?.reason == "claims")
        #expect(await world.refusal(world.token(claims: ["sub": nil]))?.reason == "claims")
        #expect(await world.refusal(world.token(claims: ["sub": 7]))?.reason == "claims")
    }

    @Test("aud: string or array must hold an allowed audience")
    func audience() async throws {
        let world = VerifierWorld()
        #expect(await world.refusal(world.token(claims: ["aud": "other"]))?.reason == "audience")
        #expect(await world.refusal(world.token(claims: ["aud": nil]))?.reason == "audience")
        #expect(await world.refusal(world.token(claims: ["aud": ["other", "more"]]))?.reason == "audience")
        #expect(await world.refusal(world.token(claims: ["aud": ["API"]]))?.reason == "audience")
        #expect(try await world.verify(world.token(claims: ["aud": ["other", "api"]])).subject == "user-1")
        // No allowed audiences configured: aud is not checked.
        let clientsOnly = Std.idp(audiences: [], clients: ["c1"])
        #expect(try await world.verify(world.token(claims: ["aud": "other", "client_id": "c1"]), idp: clientsOnly).subject == "user-1")
    }

    @Test("allowed_clients: client_id, else azp; both lists must hold when both are set")
    func clients() async throws {
        let world = VerifierWorld()
        let idp = Std.idp(audiences: [], clients: ["c1"])
        #expect(try await world.verify(world.token(claims: ["client_id": "c1"]), idp: idp).clientID == "c1")
        #expect(try await world.verify(world.token(claims: ["azp": "c1"]), idp: idp).clientID == "c1")
        #expect(await world.refusal(world.token(claims: ["client_id": "c2"]), idp: idp)?.reason == "client")
        #expect(await world.refusal(world.token(), idp: idp)?.reason == "client")
        // client_id wins over azp: a wrong client_id is not rescued by a right azp.
        #expect(await world.refusal(world.token(claims: ["client_id": "c2", "azp": "c1"]), idp: idp)?.reason == "client")
        #expect(await world.refusal(world.token(claims: ["client_id": 1, "azp": "c1"]), idp: idp)?.reason == "client")

        let both = Std.idp(audiences: ["api"], clients: ["c1"])
        #expect(try await world.verify(world.token(claims: ["client_id": "c1"]), idp: both).subject == "user-1")
        #expect(await world.refusal(world.token(claims: ["client_id": "c1", "aud": "x"]), idp: both)?.reason == "audience")
        #expect(await world.refusal(world.token(claims: ["client_id": "c9"]), idp: both)?.reason == "client")
    }

    @Test("token_use must equal the configured value")
    func tokenUse() async throws {
        let world = VerifierWorld()
        let idp = Std.idp(tokenUse: "access")
        #expect(try await world.verify(world.token(claims: ["token_use": "access"]), idp: idp).subject == "user-1")
        #expect(await world.refusal(world.token(claims: ["token_use": "id"]), idp: idp)?.reason == "token_use")
        #expect(await world.refusal(world.token(), idp: idp)?.reason == "token_use")
    }

    @Test("claims rules: equals (numbers by value), contains, contains_any")
    func claimRules() async throws {
        let world = VerifierWorld()
        func rule(_ path: String, _ kind: ClaimRule.Kind) -> IdentityProvider {
            Std.idp(claims: [ClaimRule(claim: try! ClaimPath(path), kind: kind)])
        }
        let claims: [String: JSONValue?] = [
            "custom:tenant_id": "acme", "level": 42, "groups": ["agent-users", "staff"], "roles": "admin reader",
            "ids": [5, 6], "nested": ["org": ["id": 7]],
        ]
        let token = world.token(claims: claims)
        let accepted: [IdentityProvider] = [
            rule("custom:tenant_id", .equals("acme")),
            rule("level", .equals(.number("42.0"))),
            rule("level", .equals(.number("4.2e1"))),
            rule("nested.org.id", .equals(7)),
            rule("groups", .contains("agent-users")),
            rule("roles", .contains("reader")),
            rule("roles", .contains("admin reader")),
            rule("custom:tenant_id", .contains("acme")),
            rule("groups", .containsAny(["nobody", "staff"])),
            rule("roles", .containsAny(["admin", "operator"])),
        ]
        for idp in accepted {
            #expect(try await world.verify(token, idp: idp).subject == "user-1", "\(idp.claims)")
        }
        let refused: [IdentityProvider] = [
            rule("custom:tenant_id", .equals("globex")),
            rule("level", .equals("42")),
            rule("level", .equals(43)),
            rule("missing", .equals("x")),
            rule("groups", .contains("agent")),
            rule("roles", .contains("adm")),
            rule("ids", .contains("5")),
            rule("level", .contains("42")),
            rule("groups", .containsAny(["nobody", "admins"])),
            rule("groups", .containsAny([])),
        ]
        for idp in refused {
            #expect(await world.refusal(token, idp: idp)?.reason == "claims", "\(idp.claims)")
        }
        // All rules must hold.
        var both = rule("groups", .contains("staff"))
        both.claims.append(ClaimRule(claim: try ClaimPath("level"), kind: .equals(41)))
        #expect(await world.refusal(token, idp: both)?.reason == "claims")
    }

    @Test("a missing required scope is insufficient_scope, checked last")
    func scopes() async throws {
        let world = VerifierWorld()
        let idp = Std.idp(scopes: ["read", "write"])
        let missing = await world.refusal(world.token(claims: ["scope": "read"]), idp: idp)
        #expect(missing?.kind == .insufficientScope(required: ["read", "write"]))
        #expect(missing?.reason == "scope")
        #expect(try await world.verify(world.token(claims: ["scope": "write read other"]), idp: idp).scopes.count == 3)
        #expect(try await world.verify(world.token(claims: ["scp": ["read", "write"]]), idp: idp).subject == "user-1")
        #expect(try await world.verify(world.token(claims: ["scp": "read write"]), idp: idp).subject == "user-1")
        #expect(try await world.verify(world.token(claims: ["scope": "read", "scp": ["write"]]), idp: idp).subject == "user-1")
        // A scope is a whole word.
        #expect(await world.refusal(world.token(claims: ["scope": "reader writer"]), idp: idp)?.kind == .insufficientScope(required: ["read", "write"]))
        // Any other failure comes first and is a 401.
        let audienceFirst = await world.refusal(world.token(claims: ["scope": "", "aud": "x"]), idp: idp)
        #expect(audienceFirst?.kind == .invalidToken)
        #expect(audienceFirst?.reason == "audience")
    }
}
