import Foundation
import GatehouseCore
import Testing
@testable import GatehouseConfig

/// `check` (and `serve`) report the problems of every file in one run: a broken `gatehouse.yaml`
/// hides nothing, and nothing is reported twice as a follow-on of one mistake.
@Suite struct EveryProblemInOneRunTests {
    private func dir(config: String?, tenants: [String: String] = [:]) throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory()
        if let config { try dir.write("gatehouse.yaml", config) }
        for (name, text) in tenants { try dir.write("tenants/" + name, text) }
        return dir
    }

    private func lines(_ dir: TemporaryDirectory, env: [String: String] = [:]) -> [String] {
        ConfigLoader.load(configFile: dir.path + "/gatehouse.yaml", environment: env).problems.map { "\($0.file): \($0.path)" }
    }

    private let noUpstreams = Fixture.tenant(id: "acme", ["upstreams": "[]"])

    @Test func aTypoInTheConfigFileDoesNotHideTheTenantFiles() throws {
        let dir = try dir(config: "identity: { clock_skew_secnds: 30 }", tenants: [
            "acme.yaml": Fixture.tenant(id: "acme", idp: ["issuer": "\"/oauth2/acme\""]),
            "globex.yaml": Fixture.tenant(id: "globex", ["upstreams": nil]),
        ])
        #expect(lines(dir) == [
            "gatehouse.yaml: identity.clock_skew_secnds",
            "tenants/acme.yaml: idps[0].issuer",
            "tenants/globex.yaml: upstreams",
        ])
    }

    @Test func problemsComeConfigFileFirstThenEnvironmentThenTokenFileThenTenantFilesThenAcrossTenants() throws {
        let dir = try dir(
            config: """
                listen: bad
                tls: { certificate_file: missing.pem, key_file: missing-key.pem }
                admin: { operator_token_file: tokendir }
                """,
            tenants: [
                "a.yaml": Fixture.tenant(id: "a", ["match": "{hosts: [shared.example.com]}"]),
                "b.yaml": Fixture.tenant(id: "b", ["match": "{hosts: [shared.example.com]}"]),
                "c.yaml": Fixture.tenant(id: "c", ["upstreams": "[]"]),
                "d.yaml": "id: [unclosed\n",
            ])
        try dir.write("tokendir/x", "")
        #expect(lines(dir, env: ["GATEHOUSE_LOG_LEVEL": "loud"]) == [
            "gatehouse.yaml: listen",
            "gatehouse.yaml: tls.certificate_file",
            "gatehouse.yaml: tls.key_file",
            "environment: GATEHOUSE_LOG_LEVEL",
            "tokendir: ",
            "tenants/c.yaml: upstreams",
            "tenants/d.yaml: ",
            "tenants/b.yaml: match.hosts[0]",
        ])
    }

    /// Missing, not YAML, not a file, not a map: the tenants folder next to it is checked anyway.
    @Test(arguments: [nil, "listen: [unclosed\n", "- a list\n", "DIRECTORY"])
    func anUnreadableConfigFileStillLetsTheDefaultTenantsFolderBeChecked(config: String?) throws {
        let dir = try dir(config: config == "DIRECTORY" ? nil : config, tenants: ["acme.yaml": noUpstreams])
        if config == "DIRECTORY" { try FileManager.default.createDirectory(atPath: dir.path + "/gatehouse.yaml", withIntermediateDirectories: false) }
        #expect(lines(dir) == ["gatehouse.yaml: ", "tenants/acme.yaml: upstreams"])
    }

    @Test func anUnreadableConfigFileWithoutATenantsFolderIsTheOnlyProblem() throws {
        let dir = try dir(config: nil)
        #expect(ConfigLoader.load(configFile: dir.path + "/gatehouse.yaml", environment: [:]).problems.map(\.description)
            == ["gatehouse.yaml: file not found"])
    }

    @Test func theEnvironmentStillNamesTheTenantsFolderWhenTheConfigFileIsUnreadable() throws {
        let dir = try dir(config: "listen: [unclosed\n")
        try dir.write("elsewhere/acme.yaml", noUpstreams)
        #expect(lines(dir, env: ["GATEHOUSE_TENANTS_DIR": "elsewhere"]) == ["gatehouse.yaml: ", "elsewhere/acme.yaml: upstreams"])
        // A folder the environment names but that is not there is the environment's problem.
        #expect(lines(dir, env: ["GATEHOUSE_TENANTS_DIR": "nowhere"]) == ["gatehouse.yaml: ", "environment: GATEHOUSE_TENANTS_DIR"])
    }

    /// Which folder a broken or misspelt `tenants_dir` meant is unknown: the default is not a guess worth reporting on.
    @Test(arguments: ["tenants_dir: 5", "tenants_dir: \"\"", "tenant_dir: tenants"])
    func aBrokenTenantsDirLineChecksNoFolderUnlessTheEnvironmentNamesOne(config: String) throws {
        let dir = try dir(config: config, tenants: ["acme.yaml": noUpstreams])
        let line = String(config.prefix { $0 != ":" })
        #expect(lines(dir) == ["gatehouse.yaml: \(line)"])
        #expect(lines(dir, env: ["GATEHOUSE_TENANTS_DIR": "tenants"]) == ["gatehouse.yaml: \(line)", "tenants/acme.yaml: upstreams"])
    }

    @Test func tenantRulesAgainstABrokenSettingAreNotReportedAsFollowOns() throws {
        let tenant = Fixture.tenant(
            id: "acme", idp: ["jwks_uri": "\"http://localhost/jwks.json\""],
            ["propagate": "{X-Gatehouse-Assertion: sub}", "sessions": "[{header: X-Gatehouse-Session, issued_by: client}]", "upstreams": "[]"])
        // With good settings (the defaults), each of these rules finds its problem …
        let good = try dir(config: "", tenants: ["acme.yaml": tenant])
        #expect(lines(good) == [
            "tenants/acme.yaml: idps[0].jwks_uri", "tenants/acme.yaml: upstreams", "tenants/acme.yaml: propagate.X-Gatehouse-Assertion",
            "tenants/acme.yaml: sessions[0].header",
        ])
        // … but not when the setting it compares with is broken: the operator meant another value.
        let broken = try dir(
            config: """
                identity: { insecure_idp_hosts: ["localhost:8080"] }
                assertion: { header: "Bad Header" }
                propagation: { protected_prefixes: ["X Bad"] }
                """,
            tenants: ["acme.yaml": tenant])
        #expect(lines(broken) == [
            "gatehouse.yaml: identity.insecure_idp_hosts[0]", "gatehouse.yaml: propagation.protected_prefixes[0]",
            "gatehouse.yaml: assertion.header", "tenants/acme.yaml: upstreams",
        ])
        // A misspelt key counts as a broken one.
        let misspelt = try dir(config: "identity: { insecure_idp_host: [localhost] }", tenants: ["acme.yaml": Fixture.tenant(
            id: "acme", idp: ["jwks_uri": "\"http://localhost/jwks.json\""])])
        #expect(lines(misspelt) == ["gatehouse.yaml: identity.insecure_idp_host"])
    }

    @Test func aBrokenTenantFileStillClaimsItsHostsAndPrefix() throws {
        let dir = try dir(config: "", tenants: [
            "a.yaml": Fixture.tenant(id: "a", ["match": "{hosts: [a.example.com], path_prefix: /t/a}", "upstreams": "[]"]),
            "b.yaml": Fixture.tenant(id: "b", ["match": "{hosts: [a.example.com], path_prefix: /t/a/b}"]),
            // Only the valid part of a broken match claims anything: the bad host list is left out whole.
            "c.yaml": Fixture.tenant(id: "c", ["match": "{hosts: [a.example.com, \"bad host\"], path_prefix: /t/c}"]),
            "d.yaml": Fixture.tenant(id: "d", ["match": "{path_prefix: /t/c}"]),
        ])
        #expect(lines(dir) == [
            "tenants/a.yaml: upstreams", "tenants/c.yaml: match.hosts[1]",
            "tenants/b.yaml: match.hosts[0]", "tenants/b.yaml: match.path_prefix", "tenants/d.yaml: match.path_prefix",
        ])
    }
}
