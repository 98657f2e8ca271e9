import Foundation
import GatehouseCore
import Testing
@testable import GatehouseConfig

@Suite struct TenantDirectoryLoadingTests {
    private func write(_ files: [String: String], config: String = "") throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory()
        try dir.write("gatehouse.yaml", config)
        try FileManager.default.createDirectory(atPath: dir.path + "/tenants", withIntermediateDirectories: true)
        for (name, text) in files { try dir.write("tenants/" + name, text) }
        return dir
    }

    private func load(_ dir: TemporaryDirectory) -> Result<ConfigSnapshot, [ConfigProblem]> {
        ConfigLoader.load(configFile: dir.path + "/gatehouse.yaml", environment: [:])
    }

    private func withMatch(_ id: String, _ match: String) -> String {
        Fixture.tenant(id: id, ["match": match])
    }

    @Test func loadsEveryYAMLFileAndIgnoresOthers() throws {
        let dir = try write([
            "acme.yaml": Fixture.tenant(id: "acme"),
            "globex.yml": Fixture.tenant(id: "globex"),
            "README.md": "# not a tenant",
            "notes.txt": "x",
            ".#acme.yaml": "editor lock file",
        ])
        let snapshot = try #require(load(dir).value)
        #expect(snapshot.tenantIDs.map(\.rawValue) == ["acme", "globex"])
        #expect(snapshot.tenants[TenantID("globex")!]?.sourceFile == "tenants/globex.yml")
    }

    @Test func manyFilesParsedInParallelGiveEveryTenantAndEveryProblemInFileOrder() throws {
        var files: [String: String] = [:]
        var broken: [String] = []
        for i in 0..<400 {
            let id = String(format: "t%03d", i)
            if i % 7 == 3 {
                files["\(id).yaml"] = "id: \(id)\nupstreams: [\n"
                broken.append("tenants/\(id).yaml")
            } else {
                files["\(id).yaml"] = withMatch(id, "{path_prefix: /t/\(id)}")
            }
        }
        files["t399.yml"] = Fixture.tenant(id: "t399")  // also t399.yaml: a duplicate
        let dir = try write(files)
        let problems = load(dir).problems
        #expect(problems.map(\.file) == broken + ["tenants/t399.yml"])
        #expect(problems.last?.message.contains("also defined in tenants/t399.yaml") == true)
        try FileManager.default.removeItem(atPath: dir.path + "/tenants/t399.yml")
        for file in broken { try FileManager.default.removeItem(atPath: dir.path + "/" + file) }
        let snapshot = try #require(load(dir).value)
        #expect(snapshot.tenantIDs.count == 400 - broken.count)
        #expect(snapshot.tenantIDs.map(\.rawValue) == snapshot.tenantIDs.map(\.rawValue).sorted())
        #expect(snapshot.tenants[TenantID("t398")!]?.match.pathPrefix == "/t/t398")
    }

    @Test func emptyTenantsDirectoryLoadsZeroTenants() throws {
        let dir = try write([:])
        #expect(try #require(load(dir).value).tenantIDs.isEmpty)
    }

    @Test func missingTenantsDirectoryIsAProblemOnTheKey() throws {
        let dir = try TemporaryDirectory()
        try dir.write("gatehouse.yaml", "tenants_dir: nowhere")
        let problems = load(dir).problems
        #expect(problems.map(\.file) == ["gatehouse.yaml"])
        #expect(problems.map(\.path) == ["tenants_dir"])
    }

    @Test func settingsProblemsComeFirstAndDoNotHideTheTenantFiles() throws {
        let dir = try write(["acme.yaml": "id: wrong"], config: "listen: bad")
        #expect(load(dir).problems.map { "\($0.file): \($0.path)" } == [
            "gatehouse.yaml: listen", "tenants/acme.yaml: id", "tenants/acme.yaml: upstreams",
        ])
    }

    @Test func allProblemsOfAllFilesAreCollected() throws {
        let dir = try write([
            "acme.yaml": Fixture.tenant(id: "acme", ["authorization": "keep", "upstreams": "[]"]),
            "globex.yaml": Fixture.tenant(id: "globex", idp: ["algorithms": "[HS256]"]),
            "initech.yaml": "id: initech\nupstreams: [{url: http://a}]\nbogus: 1\n",
            "broken.yaml": "id: [unclosed\n",
            "ok.yaml": Fixture.tenant(id: "ok"),
        ])
        let problems = load(dir).problems
        #expect(problems.map { "\($0.file): \($0.path)" } == [
            "tenants/acme.yaml: upstreams",
            "tenants/acme.yaml: authorization",
            "tenants/broken.yaml: ",
            "tenants/globex.yaml: idps[0].algorithms[0]",
            "tenants/initech.yaml: bogus",
        ])
    }

    @Test func twoTenantsCannotClaimTheSameHost() throws {
        let dir = try write([
            "acme.yaml": withMatch("acme", "{hosts: [shared.example.com, acme.example.com]}"),
            "globex.yaml": withMatch("globex", "{hosts: [globex.example.com, SHARED.example.com]}"),
        ])
        let problems = load(dir).problems
        #expect(problems.map(\.file) == ["tenants/globex.yaml"])
        #expect(problems.map(\.path) == ["match.hosts[1]"])
        #expect(problems[0].message.contains("tenant acme"))
    }

    @Test func overlappingPathPrefixesAreRefused() throws {
        let same = try write(["acme.yaml": withMatch("acme", "{path_prefix: /t/acme}"), "b.yaml": withMatch("b", "{path_prefix: /t/acme}")])
        #expect(load(same).problems.map(\.path) == ["match.path_prefix"])
        let nested = try write(["acme.yaml": withMatch("acme", "{path_prefix: /t/acme}"), "b.yaml": withMatch("b", "{path_prefix: /t/acme/x}")])
        #expect(load(nested).problems.map(\.file) == ["tenants/b.yaml"])
        let outer = try write(["a.yaml": withMatch("a", "{path_prefix: /t/acme/x}"), "b.yaml": withMatch("b", "{path_prefix: /t}")])
        #expect(load(outer).problems.map(\.file) == ["tenants/b.yaml"])
    }

    @Test func siblingPrefixesDoNotOverlap() throws {
        let dir = try write(["acme.yaml": withMatch("acme", "{path_prefix: /t/acme}"), "acmex.yaml": withMatch("acmex", "{path_prefix: /t/acmex}")])
        let snapshot = try #require(load(dir).value)
        #expect(snapshot.tenant(forPath: "/t/acmex/mcp")?.tenant.rawValue == "acmex")
        #expect(snapshot.tenant(forPath: "/t/acme/mcp")?.tenant.rawValue == "acme")
    }

    @Test func theSameTenantIDTwiceIsRefused() throws {
        let dir = try write(["acme.yaml": Fixture.tenant(id: "acme"), "acme.yml": Fixture.tenant(id: "acme")])
        let problems = load(dir).problems
        #expect(problems.map(\.file) == ["tenants/acme.yml"])
        #expect(problems[0].message.contains("tenants/acme.yaml"))
    }

    @Test func fileNameThatIsNoTenantIDIsReportedOnID() throws {
        let dir = try write(["Acme Corp.yaml": Fixture.tenant(id: "acme")])
        let problems = load(dir).problems
        #expect(problems.map { "\($0.file): \($0.path)" } == ["tenants/Acme Corp.yaml: id"])
    }

    @Test func tenantsDirOutsideTheConfigFolderShowsAbsolutePaths() throws {
        let outside = try TemporaryDirectory()
        try outside.write("acme.yaml", "id: acme")
        let dir = try TemporaryDirectory()
        try dir.write("gatehouse.yaml", "tenants_dir: \"\(outside.path)\"")
        let problems = load(dir).problems
        #expect(problems.map(\.file) == [outside.path + "/acme.yaml"])
    }

    @Test func oversizedTenantFileIsRefusedWithoutParsing() throws {
        let dir = try write(["acme.yaml": "# " + String(repeating: "x", count: InputLimits.maxFileBytes) + "\n"])
        let problems = load(dir).problems
        #expect(problems.count == 1)
        #expect(problems[0].message.contains("larger than"))
    }

    @Test func loadTenantsAloneReusesSettings() throws {
        let dir = try write(["acme.yaml": Fixture.tenant(id: "acme")])
        let settings = try #require(ConfigLoader.loadSettings(configFile: dir.path + "/gatehouse.yaml", environment: [:]).value)
        try dir.write("tenants/globex.yaml", Fixture.tenant(id: "globex"))
        let tenants = try #require(ConfigLoader.loadTenants(settings: settings).value)
        #expect(tenants.map(\.id.rawValue) == ["acme", "globex"])
    }
}

@Suite("Path prefix overlap index")
struct PrefixIndexTests {
    /// The rule, written the obvious way.
    static func overlap(_ a: String, _ b: String) -> Bool {
        a == b || b.hasPrefix(a + "/") || a.hasPrefix(b + "/")
    }

    @Test("finds the same first overlapping prefix as comparing with every earlier one")
    func agreesWithPairwiseComparison() {
        let segments = ["t", "acme", "acmex", "a", "", "x"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var index = CrossTenantChecks.PrefixIndex()
            var accepted: [(prefix: String, tenant: TenantID)] = []
            for n in 0..<12 {
                let depth = Int.random(in: 1...4, using: &generator)
                var prefix = (0..<depth).map { _ in "/" + segments.randomElement(using: &generator)! }.joined()
                if Bool.random(using: &generator), prefix.count > 1 { prefix += "/" }
                let expected = accepted.first { Self.overlap($0.prefix, prefix) }
                let found = index.firstOverlapping(prefix)
                #expect(found?.prefix == expected?.prefix && found?.tenant == expected?.tenant, "\(prefix) among \(accepted.map(\.prefix))")
                if expected == nil {
                    let tenant = TenantID("t\(n)")!
                    index.insert(prefix, tenant)
                    accepted.append((prefix, tenant))
                }
            }
        }
    }
}
