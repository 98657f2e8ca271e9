import GatehouseCore
import Testing
@testable import GatehouseConfig

/// `parseIdentityProvider`: IdPs submitted as JSON by tenant admins, treated as hostile.
@Suite struct AdminIdentityProviderTests {
    let valid = #"{"issuer": "https://idp.example.com/", "jwks_uri": "https://idp.example.com/jwks", "allowed_audiences": ["api"]}"#

    @Test func validBodyGivesAnAdminIdP() throws {
        let value = try JSONParser.parse(valid)
        let idp = try #require(ConfigLoader.parseIdentityProvider(value, name: "okta", settings: Fixture.settings(), source: .admin).value)
        #expect(idp.name == "okta")
        #expect(idp.source == .admin)
        #expect(idp.allowedAudiences == ["api"])
        #expect(idp.algorithms == JWSAlgorithm.defaults)
    }

    @Test func problemPathsAreRelativeToTheBody() throws {
        let problems = try Fixture.idpProblems(#"{"issuer": "https://idp.example.com/", "jwks_uri": "https://idp.example.com/jwks"}"#)
        #expect(problems.map(\.path) == ["allowed_clients"])
        #expect(problems.map(\.file) == [""])
        #expect(problems[0].description.hasPrefix("allowed_clients: "))
    }

    @Test func nameFromTheURLIsValidated() throws {
        #expect(try Fixture.idpProblems(valid, name: "../etc").map(\.path) == ["name"])
        #expect(try Fixture.idpProblems(valid, name: "").map(\.path) == ["name"])
    }

    @Test func nameInTheBodyMustAgreeWithTheURL() throws {
        let same = #"{"name": "main", "issuer": "https://i.example.com/", "jwks_uri": "https://i.example.com/k", "allowed_clients": ["c"]}"#
        #expect(try Fixture.idpProblems(same).isEmpty)
        let other = same.replacingOccurrences(of: #""name": "main""#, with: #""name": "evil""#)
        #expect(try Fixture.idpProblems(other).map(\.path) == ["name"])
    }

    @Test func wrongTypesAreProblemsNotCrashes() throws {
        let body = #"{"issuer": 5, "jwks_uri": ["x"], "allowed_clients": "c", "allowed_audiences": {"a": 1}, "required_scopes": [1], "token_use": false, "algorithms": "RS256", "claims": {"claim": "a"}}"#
        let problems = try Fixture.idpProblems(body)
        #expect(problems.map(\.path) == ["issuer", "jwks_uri", "allowed_clients", "allowed_audiences", "required_scopes[0]", "token_use", "algorithms", "claims"])
    }

    @Test func bodyMustBeAnObject() throws {
        #expect(try Fixture.idpProblems("[]").map(\.path) == [""])
        #expect(try Fixture.idpProblems("null").map(\.path) == [""])
    }

    @Test func unknownKeysAreRefusedAndTheirReportIsCapped() throws {
        var members = (0..<5000).map { "\"k\($0)\": 1" }
        members.append(#""issuer": "https://idp.example.com/", "jwks_uri": "https://idp.example.com/jwks", "allowed_clients": ["c"]"#)
        let problems = try Fixture.idpProblems("{" + members.joined(separator: ",") + "}")
        #expect(problems.count == InputLimits.maxUnknownKeysReported + 1)
        #expect(problems.last?.message == "4990 more unknown keys")
    }

    @Test func hugeListsAreRefusedWhole() throws {
        func body(_ key: String, _ count: Int, item: String = #""x""#) -> String {
            let list = "[" + Array(repeating: item, count: count).joined(separator: ",") + "]"
            let restriction = key == "allowed_clients" ? #""allowed_audiences": ["a"]"# : #""allowed_clients": ["c"]"#
            return #"{"issuer": "https://idp.example.com/", "jwks_uri": "https://idp.example.com/jwks", "# + restriction + #", ""# + key + #"": "# + list + "}"
        }
        #expect(try Fixture.idpProblems(body("allowed_clients", 100)).isEmpty)
        let clients = try Fixture.idpProblems(body("allowed_clients", 101))
        #expect(clients.map(\.path) == ["allowed_clients"])
        #expect(clients[0].message.contains("at most 100"))
        #expect(try Fixture.idpProblems(body("allowed_audiences", 100_000)).map(\.path) == ["allowed_audiences"])
        #expect(try Fixture.idpProblems(body("required_scopes", 101)).map(\.path) == ["required_scopes"])
        #expect(try Fixture.idpProblems(body("claims", 101, item: #"{"claim": "a", "equals": "b"}"#)).map(\.path) == ["claims"])
        #expect(try Fixture.idpProblems(body("algorithms", 20, item: #""RS256""#)).isEmpty)
        #expect(try Fixture.idpProblems(body("algorithms", 21, item: #""RS256""#)).map(\.path) == ["algorithms"])
        #expect(try Fixture.idpProblems(body("claims", 2, item: #"{"claim": "a", "contains_any": [\#(Array(repeating: "\"v\"", count: 101).joined(separator: ","))]}"#)).map(\.path)
                == ["claims[0].contains_any", "claims[1].contains_any"])
    }

    @Test func longAndControlCharacterStringsAreRefused() throws {
        let long = String(repeating: "a", count: 5000)
        let body = #"{"issuer": "https://idp.example.com/", "jwks_uri": "https://idp.example.com/jwks", "allowed_clients": [""# + long + #"", "ok\u0000"]}"#
        let problems = try Fixture.idpProblems(body)
        #expect(problems.map(\.path) == ["allowed_clients[0]", "allowed_clients[1]"])
        #expect(problems.allSatisfy { $0.description.count < 300 })
    }

    @Test func noneAndHMACAreRefusedFromAdmins() throws {
        let body = #"{"issuer": "https://i.example.com/", "jwks_uri": "https://i.example.com/k", "allowed_clients": ["c"], "algorithms": ["none", "HS256"]}"#
        #expect(try Fixture.idpProblems(body).map(\.path) == ["algorithms[0]", "algorithms[1]"])
    }

    @Test func adminIdPsCannotPointAtInternalHosts() throws {
        for host in ["localhost", "127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.0.1", "172.20.0.1", "100.64.0.1",
                     "[::1]", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "metadata.google.internal", "x.localhost",
                     // A trailing dot names the same host (fully qualified).
                     "localhost.", "127.0.0.1.", "metadata.google.internal.", "10.1.2.3.."] {
            let body = #"{"issuer": "https://i.example.com/", "jwks_uri": "https://\#(host)/k", "allowed_clients": ["c"]}"#
            #expect(try Fixture.idpProblems(body).map(\.path) == ["jwks_uri"], "\(host)")
        }
        let body = #"{"issuer": "https://i.example.com/", "jwks_uri": "https://8.8.8.8/k", "allowed_clients": ["c"]}"#
        #expect(try Fixture.idpProblems(body).isEmpty)
    }

    @Test func insecureHostsAreExemptForAdminsToo() throws {
        let body = #"{"issuer": "http://127.0.0.1:9000", "jwks_uri": "http://127.0.0.1:9000/jwks", "allowed_clients": ["c"]}"#
        #expect(try Fixture.idpProblems(body, settings: Fixture.settings(insecure: ["127.0.0.1"])).isEmpty)
        #expect(try Fixture.idpProblems(body).map(\.path) == ["jwks_uri"])
    }

    @Test func operatorFilesMayUseInternalHTTPSHosts() {
        let yaml = Fixture.tenant(idp: ["jwks_uri": "\"https://10.0.0.5/jwks\""])
        #expect(Fixture.paths(yaml) == [])
    }

    @Test func nullMeansAbsent() throws {
        let body = #"{"issuer": "https://i.example.com/", "jwks_uri": "https://i.example.com/k", "allowed_clients": ["c"], "token_use": null, "claims": null}"#
        #expect(try Fixture.idpProblems(body).isEmpty)
    }
}
