import Foundation
import GatehouseCore
import Testing
@testable import GatehouseConfig

@Suite struct TenantParserTests {
    @Test func baselineFixturePasses() throws {
        let tenant = try #require(Fixture.parse(Fixture.tenant()).value)
        #expect(tenant.id.rawValue == "acme")
        #expect(tenant.sourceFile == "tenants/acme.yaml")
    }

    @Test func defaultsApplyWhenFieldsAreAbsent() throws {
        let tenant = try #require(Fixture.parse(Fixture.tenant()).value)
        #expect(tenant.displayName == "acme")
        #expect(tenant.match == TenantMatch())
        #expect(tenant.preserveHost == false)
        #expect(tenant.propagate == Tenant.defaultPropagation)
        #expect(tenant.authorization == .passthrough)
        #expect(tenant.sessions == Tenant.defaultSessions)
        #expect(tenant.sessionIdleTTLSeconds == 3600)
        #expect(tenant.oauth == nil)
        #expect(tenant.limits == TenantLimits())
        #expect(tenant.idps[0].algorithms == JWSAlgorithm.defaults)
        #expect(tenant.idps[0].source == .file)
    }

    @Test func everyFieldIsRead() throws {
        let yaml = """
            id: acme
            display_name: "Acme Corp"
            match: { hosts: ["Acme.Agents.Example.com"], path_prefix: "/t/acme", strip_prefix: false }
            idps:
              - name: cognito
                issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X"
                discovery_url: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X/.well-known/openid-configuration"
                jwks_uri: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X/.well-known/jwks.json"
                allowed_clients: ["c1", "c2"]
                allowed_audiences: ["aud1"]
                required_scopes: ["agents/invoke"]
                token_use: access
                algorithms: [ES384, RS256, ES384]
                claims:
                  - { claim: "custom:tenant_id", equals: "acme" }
                  - { claim: "level", equals: 3 }
                  - { claim: "cognito:groups", contains: "agent-users" }
                  - { claim: "roles", contains_any: ["admin", "operator"] }
            upstreams: [{ url: "http://127.0.0.1:7001" }, { url: "https://agents.internal:8443/base/" }]
            preserve_host: true
            propagate:
              X-User-Id: "sub"
              X-Tenant-Id: "$tenant"
              X-Roles: "['https://example.com/roles']"
            authorization: drop
            sessions:
              - { header: "Mcp-Session-Id", issued_by: server }
              - { header: "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", issued_by: client }
            session_idle_ttl_seconds: 120
            oauth: { completion_url: "https://agent.example.com/oauth/complete", flow_ttl_seconds: 300 }
            limits: { requests_per_second: 2.5, max_concurrent_requests: 10 }
            """
        let t = try #require(Fixture.parse(yaml).value)
        #expect(t.displayName == "Acme Corp")
        #expect(t.match == TenantMatch(hosts: ["acme.agents.example.com"], pathPrefix: "/t/acme", stripPrefix: false))
        let idp = try #require(t.idps.first)
        #expect(idp.name == "cognito")
        #expect(idp.discoveryURL?.hasSuffix("openid-configuration") == true)
        #expect(idp.jwksURI?.hasSuffix("jwks.json") == true)
        #expect(idp.allowedClients == ["c1", "c2"])
        #expect(idp.allowedAudiences == ["aud1"])
        #expect(idp.requiredScopes == ["agents/invoke"])
        #expect(idp.tokenUse == "access")
        #expect(idp.algorithms == [.ES384, .RS256])
        #expect(idp.claims == [
            ClaimRule(claim: try ClaimPath("custom:tenant_id"), kind: .equals(.string("acme"))),
            ClaimRule(claim: try ClaimPath("level"), kind: .equals(.number("3"))),
            ClaimRule(claim: try ClaimPath("cognito:groups"), kind: .contains("agent-users")),
            ClaimRule(claim: try ClaimPath("roles"), kind: .containsAny(["admin", "operator"])),
        ])
        #expect(t.upstreams == [
            Upstream(scheme: "http", host: "127.0.0.1", port: 7001, basePath: ""),
            Upstream(scheme: "https", host: "agents.internal", port: 8443, basePath: "/base"),
        ])
        #expect(t.preserveHost)
        #expect(t.propagate == [
            PropagationRule(header: "X-Roles", source: .claim(try ClaimPath("['https://example.com/roles']"))),
            PropagationRule(header: "X-Tenant-Id", source: .tenant),
            PropagationRule(header: "X-User-Id", source: .claim(try ClaimPath("sub"))),
        ])
        #expect(t.authorization == .drop)
        #expect(t.sessions == Tenant.defaultSessions)
        #expect(t.sessionIdleTTLSeconds == 120)
        #expect(t.oauth == OAuthSettings(completionURL: "https://agent.example.com/oauth/complete", flowTTLSeconds: 300))
        #expect(t.limits == TenantLimits(requestsPerSecond: 2.5, maxConcurrentRequests: 10))
    }

    // MARK: id and top level

    @Test func idIsRequired() {
        #expect(Fixture.paths(Fixture.tenant(["id": nil])) == ["id"])
    }

    @Test func idMustMatchTheGrammar() {
        #expect(Fixture.paths(Fixture.tenant(id: "Acme"), stem: "Acme") == ["id"])
        #expect(Fixture.paths(Fixture.tenant(id: "-acme"), stem: "-acme") == ["id"])
        #expect(Fixture.paths(Fixture.tenant(id: "acme_corp"), stem: "acme_corp") == ["id"])
    }

    @Test func idMustEqualTheFileStem() {
        let problems = Fixture.problems(Fixture.tenant(id: "globex"), stem: "acme")
        #expect(problems.map(\.path) == ["id"])
        #expect(problems[0].message.contains("file name"))
    }

    @Test func unknownTopLevelKeyIsAnError() {
        let problems = Fixture.problems(Fixture.tenant(["upstream": "[]"]))
        #expect(problems.map(\.path) == ["upstream"])
        #expect(problems[0].message == "unknown key (did you mean upstreams?)")
    }

    @Test func displayNameMustBeAString() {
        #expect(Fixture.paths(Fixture.tenant(["display_name": "[a]"])) == ["display_name"])
    }

    @Test func rootMustBeAMap() {
        #expect(Fixture.paths("- a\n- b\n") == [""])
    }

    @Test func emptyFileReportsRequiredFields() {
        #expect(Fixture.paths("") == ["id", "upstreams"])
    }

    // MARK: upstreams

    @Test func atLeastOneUpstream() {
        #expect(Fixture.paths(Fixture.tenant(["upstreams": nil])) == ["upstreams"])
        #expect(Fixture.paths(Fixture.tenant(["upstreams": "[]"])) == ["upstreams"])
    }

    @Test func upstreamURLsMustBeHTTPWithAHost() {
        #expect(Fixture.paths(Fixture.tenant(["upstreams": "[{url: \"ftp://x\"}]"])) == ["upstreams[0].url"])
        #expect(Fixture.paths(Fixture.tenant(["upstreams": "[{url: \"http://\"}]"])) == ["upstreams[0].url"])
        #expect(Fixture.paths(Fixture.tenant(["upstreams": "[{url: \"http://a\"}, {url: \"http://u:p@b\"}]"])) == ["upstreams[1].url"])
        #expect(Fixture.paths(Fixture.tenant(["upstreams": "[{url: \"http://a\", weight: 2}]"])) == ["upstreams[0].weight"])
        #expect(Fixture.paths(Fixture.tenant(["upstreams": "[\"http://a\"]"])) == ["upstreams[0]"])
    }

    @Test func httpsUpstreamsTakeACAFileAndAServerName() throws {
        let ca = FileManager.default.temporaryDirectory.path + "/gatehouse-ca-\(UUID().uuidString).pem"
        try "-----BEGIN CERTIFICATE-----\n".write(toFile: ca, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: ca) }
        let ok = "[{url: \"https://10.0.0.5:8443\", ca_file: \"\(ca)\", server_name: Agent.Internal}]"
        let t = try #require(Fixture.parse(Fixture.tenant(["upstreams": ok])).value)
        #expect(t.upstreams == [Upstream(scheme: "https", host: "10.0.0.5", port: 8443, basePath: "", caFile: ca, serverName: "agent.internal")])
        let cases: [(String, String)] = [
            ("[{url: \"http://a\", ca_file: \"\(ca)\"}]", "upstreams[0].ca_file"),
            ("[{url: \"https://a\", ca_file: relative.pem}]", "upstreams[0].ca_file"),
            ("[{url: \"https://a\", ca_file: /no/such/file.pem}]", "upstreams[0].ca_file"),
            ("[{url: \"http://a\", server_name: b}]", "upstreams[0].server_name"),
            ("[{url: \"https://a\", server_name: \"b:443\"}]", "upstreams[0].server_name"),
        ]
        for (upstreams, path) in cases {
            #expect(Fixture.paths(Fixture.tenant(["upstreams": upstreams])) == [path], "\(upstreams)")
        }
    }

    // MARK: match

    @Test func hostsAreLowerCasedAndPlain() throws {
        let t = try #require(Fixture.parse(Fixture.tenant(["match": "{hosts: [A.Example.COM]}"])).value)
        #expect(t.match.hosts == ["a.example.com"])
        #expect(Fixture.paths(Fixture.tenant(["match": "{hosts: [\"a.example.com:8080\"]}"])) == ["match.hosts[0]"])
        #expect(Fixture.paths(Fixture.tenant(["match": "{hosts: [\"https://a.example.com\"]}"])) == ["match.hosts[0]"])
        #expect(Fixture.paths(Fixture.tenant(["match": "{hosts: [\"*.example.com\"]}"])) == ["match.hosts[0]"])
        #expect(Fixture.paths(Fixture.tenant(["match": "{hosts: [\"a.example.com/x\"]}"])) == ["match.hosts[0]"])
        #expect(Fixture.paths(Fixture.tenant(["match": "{hosts: [a.example.com, A.example.com]}"])) == ["match.hosts[1]"])
    }

    @Test func pathPrefixRules() {
        let bad = ["t/acme", "/", "/t/acme/", "/t//acme", "/t/../acme", "/t/./acme", "/t/ac me", "/t/%61cme", "/t?x",
                   "/.well-known", "/.well-known/acme", "/.gatehouse/x"]
        for prefix in bad {
            #expect(Fixture.paths(Fixture.tenant(["match": "{path_prefix: \"\(prefix)\"}"])) == ["match.path_prefix"], "\(prefix)")
        }
        #expect(Fixture.paths(Fixture.tenant(["match": "{path_prefix: \"/.well-knownish\"}"])) == [])
        #expect(Fixture.paths(Fixture.tenant(["match": "{path_prefix: \"/t/acme-1.v2\"}"])) == [])
    }

    @Test func stripPrefixMustBeABoolean() {
        #expect(Fixture.paths(Fixture.tenant(["match": "{strip_prefix: \"no\"}"])) == ["match.strip_prefix"])
    }

    @Test func unknownMatchKey() {
        #expect(Fixture.paths(Fixture.tenant(["match": "{host: [a.example.com]}"])) == ["match.host"])
    }

    // MARK: propagate

    @Test func propagateWhenPresentIsExactlyWhatItLists() throws {
        let t = try #require(Fixture.parse(Fixture.tenant(["propagate": "{X-Who: sub}"])).value)
        #expect(t.propagate == [PropagationRule(header: "X-Who", source: .claim(try ClaimPath("sub")))])
        let none = try #require(Fixture.parse(Fixture.tenant(["propagate": "{}"])).value)
        #expect(none.propagate.isEmpty)
    }

    @Test func propagateHeaderNamesMustBeValid() {
        #expect(Fixture.paths(Fixture.tenant(["propagate": "{\"X Who\": sub}"])) == ["propagate[\"X Who\"]"])
    }

    @Test func propagateHeadersMustNotRepeatCanonically() {
        #expect(Fixture.paths(Fixture.tenant(["propagate": "{X-User-Id: sub, x_user_id: email}"])) == ["propagate.x_user_id"])
    }

    @Test func propagateRefusesHopByHopFramingAndCredentialHeaders() {
        let forbidden = ["Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Proxy-Authorization",
                         "Proxy-Foo", "Content-Length", "Host", "Authorization", "Cookie", "X-Forwarded-For", "X-Gatehouse-Assertion"]
        for header in forbidden {
            #expect(Fixture.paths(Fixture.tenant(["propagate": "{\(header): sub}"])) == ["propagate.\(header)"], "\(header)")
        }
    }

    @Test func propagateValuesAreTenantOrAClaimPath() {
        #expect(Fixture.paths(Fixture.tenant(["propagate": "{X-T: \"$tenant_id\"}"])) == ["propagate.X-T"])
        #expect(Fixture.paths(Fixture.tenant(["propagate": "{X-T: \"a..b\"}"])) == ["propagate.X-T"])
        #expect(Fixture.paths(Fixture.tenant(["propagate": "{X-T: \"a[x]\"}"])) == ["propagate.X-T"])
        #expect(Fixture.paths(Fixture.tenant(["propagate": "{X-T: 5}"])) == ["propagate.X-T"])
        #expect(Fixture.paths(Fixture.tenant(["propagate": "[X-T]"])) == ["propagate"])
    }

    // MARK: authorization, sessions, ttl, oauth, limits

    @Test func authorizationIsPassthroughOrDrop() {
        #expect(Fixture.paths(Fixture.tenant(["authorization": "keep"])) == ["authorization"])
    }

    @Test func sessionsWhenPresentReplaceTheDefault() throws {
        let t = try #require(Fixture.parse(Fixture.tenant(["sessions": "[]"])).value)
        #expect(t.sessions.isEmpty)
    }

    @Test func sessionRules() {
        #expect(Fixture.paths(Fixture.tenant(["sessions": "[{header: \"Bad Header\", issued_by: server}]"])) == ["sessions[0].header"])
        #expect(Fixture.paths(Fixture.tenant(["sessions": "[{header: X-S, issued_by: both}]"])) == ["sessions[0].issued_by"])
        #expect(Fixture.paths(Fixture.tenant(["sessions": "[{header: X-S}]"])) == ["sessions[0].issued_by"])
        #expect(Fixture.paths(Fixture.tenant(["sessions": "[{issued_by: client}]"])) == ["sessions[0].header"])
        #expect(Fixture.paths(Fixture.tenant(["sessions": "[{header: X-S, issued_by: client}, {header: x_s, issued_by: server}]"]))
                == ["sessions[1].header"])
        #expect(Fixture.paths(Fixture.tenant(["sessions": "[{header: Cookie, issued_by: client}]"])) == ["sessions[0].header"])
        #expect(Fixture.paths(Fixture.tenant(["sessions": "[{header: X-Gatehouse-Session, issued_by: client}]"])) == ["sessions[0].header"])
        #expect(Fixture.paths(Fixture.tenant(["propagate": "{X-S: sub}", "sessions": "[{header: X-S, issued_by: client}]"]))
                == ["sessions[0].header"])
        #expect(Fixture.paths(Fixture.tenant(["sessions": "[{header: X-S, issued_by: client, ttl: 5}]"])) == ["sessions[0].ttl"])
    }

    @Test func ttlsMustBePositive() {
        #expect(Fixture.paths(Fixture.tenant(["session_idle_ttl_seconds": "0"])) == ["session_idle_ttl_seconds"])
        #expect(Fixture.paths(Fixture.tenant(["session_idle_ttl_seconds": "1.5"])) == ["session_idle_ttl_seconds"])
        #expect(Fixture.paths(Fixture.tenant(["oauth": "{completion_url: \"http://a/x\", flow_ttl_seconds: -1}"])) == ["oauth.flow_ttl_seconds"])
    }

    @Test func oauthCompletionURLMustBeHTTP() {
        #expect(Fixture.paths(Fixture.tenant(["oauth": "{completion_url: \"ftp://a/x\"}"])) == ["oauth.completion_url"])
        #expect(Fixture.paths(Fixture.tenant(["oauth": "{completion_url: \"/relative\"}"])) == ["oauth.completion_url"])
        #expect(Fixture.paths(Fixture.tenant(["oauth": "{flow_ttl_seconds: 5}"])) == ["oauth.completion_url"])
    }

    @Test func limitsMustNotBeNegative() {
        #expect(Fixture.paths(Fixture.tenant(["limits": "{requests_per_second: -1}"])) == ["limits.requests_per_second"])
        #expect(Fixture.paths(Fixture.tenant(["limits": "{max_concurrent_requests: -1}"])) == ["limits.max_concurrent_requests"])
        #expect(Fixture.paths(Fixture.tenant(["limits": "{requests_per_second: 0, max_concurrent_requests: 0}"])) == [])
    }

    @Test func preserveHostMustBeABoolean() {
        #expect(Fixture.paths(Fixture.tenant(["preserve_host": "maybe"])) == ["preserve_host"])
    }

    @Test func everyProblemOfAFileIsReported() {
        let yaml = Fixture.tenant(idp: ["issuer": "nope"], ["authorization": "keep", "upstreams": "[]", "colour": "red"])
        #expect(Fixture.paths(yaml) == ["colour", "idps[0].issuer", "upstreams", "authorization"])
    }
}
