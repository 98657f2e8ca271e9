import GatehouseCore
import Testing
@testable import GatehouseConfig

/// IdP rules as tenant files see them (paths under `idps[0]`).
@Suite struct IdentityProviderRulesTests {
    @Test func nameIsRequiredAndValid() {
        #expect(Fixture.paths(Fixture.tenant(idp: ["name": nil])) == ["idps[0].name"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["name": "\"-bad\""])) == ["idps[0].name"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["name": "\"has space\""])) == ["idps[0].name"])
    }

    @Test func namesAreUniqueWithinATenant() {
        let idp = Fixture.idpFlow()
        let other = Fixture.idpFlow(["name": "MAIN", "issuer": "\"https://other.example.com/\""])
        #expect(Fixture.paths(Fixture.tenant(["idps": "[\(idp), \(other)]"])) == ["idps[1].name"])
    }

    @Test func issuersAreUniqueWithinATenant() {
        let idp = Fixture.idpFlow()
        let other = Fixture.idpFlow(["name": "second"])
        #expect(Fixture.paths(Fixture.tenant(["idps": "[\(idp), \(other)]"])) == ["idps[1].issuer"])
    }

    @Test func issuerMustBeAnAbsoluteURL() {
        #expect(Fixture.paths(Fixture.tenant(idp: ["issuer": nil])) == ["idps[0].issuer"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["issuer": "\"idp.example.com\""])) == ["idps[0].issuer"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["issuer": "\"/relative\""])) == ["idps[0].issuer"])
    }

    @Test func anIdPMustRestrictClientsOrAudiences() {
        #expect(Fixture.paths(Fixture.tenant(idp: ["allowed_clients": nil])) == ["idps[0].allowed_clients"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["allowed_clients": "[]", "allowed_audiences": "[]"])) == ["idps[0].allowed_clients"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["allowed_clients": nil, "allowed_audiences": "[api]"])) == [])
        #expect(Fixture.paths(Fixture.tenant(idp: ["allowed_clients": "[\"\"]"])) == ["idps[0].allowed_clients[0]"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["allowed_clients": "client-1"])) == ["idps[0].allowed_clients"])
    }

    @Test func keyLocationIsRequired() {
        let problems = Fixture.problems(Fixture.tenant(idp: ["jwks_uri": nil]))
        #expect(problems.map(\.path) == ["idps[0].discovery_url"])
        #expect(problems[0].message.contains("jwks_uri"))
    }

    @Test func keyURLsMustBeHTTPS() {
        #expect(Fixture.paths(Fixture.tenant(idp: ["jwks_uri": "\"http://idp.example.com/jwks\""])) == ["idps[0].jwks_uri"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["discovery_url": "\"http://idp.example.com/.well-known/openid-configuration\""]))
                == ["idps[0].discovery_url"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["jwks_uri": "\"jwks.json\""])) == ["idps[0].jwks_uri"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["jwks_uri": "\"https://u:p@idp.example.com/jwks\""])) == ["idps[0].jwks_uri"])
    }

    @Test func insecureHostsMayUseHTTP() {
        let yaml = Fixture.tenant(idp: ["jwks_uri": "\"http://127.0.0.1:9000/jwks\""])
        #expect(Fixture.paths(yaml, settings: Fixture.settings(insecure: ["127.0.0.1"])) == [])
        #expect(Fixture.paths(yaml, settings: Fixture.settings(insecure: ["localhost"])) == ["idps[0].jwks_uri"])
    }

    @Test func algorithmsComeOnlyFromTheAllowedSet() {
        #expect(Fixture.paths(Fixture.tenant(idp: ["algorithms": "[RS256, XYZ]"])) == ["idps[0].algorithms[1]"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["algorithms": "[]"])) == ["idps[0].algorithms"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["algorithms": "RS256"])) == ["idps[0].algorithms"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["algorithms": "[rs256]"])) == ["idps[0].algorithms[0]"])
    }

    @Test func noneAndHMACAreNeverAllowedWithAClearMessage() {
        let none = Fixture.problems(Fixture.tenant(idp: ["algorithms": "[none]"]))
        #expect(none.map(\.path) == ["idps[0].algorithms[0]"])
        #expect(none[0].message.hasPrefix("\"none\" is never allowed"))
        for alg in ["HS256", "HS384", "HS512", "hs256"] {
            let hmac = Fixture.problems(Fixture.tenant(idp: ["algorithms": "[\(alg)]"]))
            #expect(hmac.map(\.path) == ["idps[0].algorithms[0]"])
            #expect(hmac.first?.message.contains("never allowed: HMAC") == true, "\(alg)")
        }
    }

    @Test func claimRulesNeedExactlyOneTest() {
        #expect(Fixture.paths(Fixture.tenant(idp: ["claims": "[{claim: a}]"])) == ["idps[0].claims[0]"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["claims": "[{claim: a, equals: x, contains: y}]"])) == ["idps[0].claims[0]"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["claims": "[{equals: x}]"])) == ["idps[0].claims[0].claim"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["claims": "[{claim: a, equal: x}]"])) == ["idps[0].claims[0].equal", "idps[0].claims[0]"])
    }

    @Test func claimRulePathsMustParse() {
        #expect(Fixture.paths(Fixture.tenant(idp: ["claims": "[{claim: \"a..b\", equals: x}]"])) == ["idps[0].claims[0].claim"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["claims": "[{claim: \"roles[x]\", contains: x}]"])) == ["idps[0].claims[0].claim"])
    }

    @Test func claimRuleValues() {
        #expect(Fixture.paths(Fixture.tenant(idp: ["claims": "[{claim: a, equals: [x]}]"])) == ["idps[0].claims[0].equals"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["claims": "[{claim: a, contains: [x]}]"])) == ["idps[0].claims[0].contains"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["claims": "[{claim: a, contains_any: []}]"])) == ["idps[0].claims[0].contains_any"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["claims": "[{claim: a, contains_any: x}]"])) == ["idps[0].claims[0].contains_any"])
        #expect(Fixture.paths(Fixture.tenant(idp: ["claims": "[{claim: a, equals: true}]"])) == [])
    }

    @Test func requiredScopesAreSingleWords() {
        #expect(Fixture.paths(Fixture.tenant(idp: ["required_scopes": "[\"read write\"]"])) == ["idps[0].required_scopes[0]"])
    }

    @Test func tokenUseMustBeAString() {
        #expect(Fixture.paths(Fixture.tenant(idp: ["token_use": "[access]"])) == ["idps[0].token_use"])
    }

    @Test func unknownIdPKeyIsAnErrorWithSuggestion() {
        let problems = Fixture.problems(Fixture.tenant(idp: ["allowed_client": "[x]"]))
        #expect(problems.map(\.path) == ["idps[0].allowed_client"])
        #expect(problems[0].message == "unknown key (did you mean allowed_clients?)")
    }

    @Test func idpsMustBeAList() {
        #expect(Fixture.paths(Fixture.tenant(["idps": "{name: x}"])) == ["idps"])
    }

    @Test func tenantWithoutIdPsIsAllowed() throws {
        let t = try #require(Fixture.parse(Fixture.tenant(["idps": nil])).value)
        #expect(t.idps.isEmpty)
    }
}
