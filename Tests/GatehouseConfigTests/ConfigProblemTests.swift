import GatehouseCore
import Testing
@testable import GatehouseConfig

@Suite struct ConfigProblemTests {
    @Test func descriptionIsFileThenPathThenMessage() {
        let problem = ConfigProblem(file: "tenants/acme.yaml", path: "idps[0].allowed_clients", message: "must not be empty")
        #expect(problem.description == "tenants/acme.yaml: idps[0].allowed_clients: must not be empty")
    }

    @Test func emptyPartsAreLeftOut() {
        #expect(ConfigProblem(file: "gatehouse.yaml", path: "", message: "file not found").description == "gatehouse.yaml: file not found")
        #expect(ConfigProblem(file: "", path: "issuer", message: "is required").description == "issuer: is required")
    }

    @Test func aLoadFailsWithEveryProblemAsOneError() {
        let problems = [
            ConfigProblem(file: "a.yaml", path: "x", message: "one"),
            ConfigProblem(file: "b.yaml", path: "y", message: "two"),
        ]
        let result: Result<Int, [ConfigProblem]> = .failure(problems)
        let error: any Error = problems
        #expect(result.problems.map(\.description) == ["a.yaml: x: one", "b.yaml: y: two"])
        #expect((error as? [ConfigProblem])?.count == 2)
    }

    @Test func tenantFileProblemUsesCheckFormat() {
        let yaml = Fixture.tenant(idp: ["allowed_clients": nil])
        let problems = Fixture.problems(yaml)
        #expect(problems.map(\.description) == [
            "tenants/acme.yaml: idps[0].allowed_clients: allowed_clients or allowed_audiences must list at least one value (an IdP that accepts any audience is refused)",
        ])
    }

    @Test func hostileKeysAreQuotedInPaths() {
        let problems = Fixture.problems(Fixture.tenant(["\"bad\\nkey\"": "1"]))
        #expect(problems.map(\.path) == ["[\"bad\\nkey\"]"])
    }
}
