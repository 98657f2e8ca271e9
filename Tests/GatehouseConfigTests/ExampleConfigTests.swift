import Foundation
import GatehouseCore
import Testing
@testable import GatehouseConfig

/// The configuration shipped in the repository must always pass `gatehouse check`.
@Suite struct ExampleConfigTests {
    static let repoRoot: String = {
        var path = FilePaths.directory(of: #filePath)  // Tests/GatehouseConfigTests
        path = FilePaths.directory(of: path)  // Tests
        return FilePaths.directory(of: path)
    }()

    @Test func repositoryGatehouseYAMLAndTenantsPass() throws {
        let result = ConfigLoader.load(configFile: ExampleConfigTests.repoRoot + "/gatehouse.yaml", environment: [:])
        if case .failure(let problems) = result { Issue.record("\(problems)") }
        let snapshot = try #require(result.value)
        #expect(snapshot.tenantIDs.map(\.rawValue) == ["acme", "globex"])
        #expect(snapshot.settings.listen == SocketAddressSpec(host: "127.0.0.1", port: 8080))
        #expect(snapshot.settings.adminListen == SocketAddressSpec(host: "127.0.0.1", port: 9090))
        #expect(snapshot.settings.store == .sqlite(path: ExampleConfigTests.repoRoot + "/.gatehouse/state.sqlite"))
        let acme = try #require(snapshot.tenants[TenantID("acme")!])
        #expect(acme.idps.map(\.name) == ["cognito"])
        #expect(acme.idps[0].allowedClients.isEmpty == false)
        let globex = try #require(snapshot.tenants[TenantID("globex")!])
        #expect(globex.idps.allSatisfy { !$0.allowedAudiences.isEmpty && !$0.requiredScopes.isEmpty })
    }

    @Test func agentCoreExamplePasses() throws {
        let result = ConfigLoader.load(configFile: ExampleConfigTests.repoRoot + "/examples/agentcore/gatehouse.yaml", environment: [:])
        if case .failure(let problems) = result { Issue.record("\(problems)") }
        let snapshot = try #require(result.value)
        let tenant = try #require(snapshot.tenants[TenantID("agentcore-demo")!])
        let upstream = try #require(tenant.upstreams.first)
        #expect(upstream.scheme == "https")
        #expect(upstream.host == "bedrock-agentcore.us-east-1.amazonaws.com")
        #expect(upstream.basePath.hasPrefix("/runtimes/arn%3Aaws%3Abedrock-agentcore"))
        #expect(tenant.authorization == .passthrough)
        #expect(tenant.sessions == [SessionRule(header: "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", issuedBy: .client)])
        let headers = Set(tenant.propagate.map(\.header))
        #expect(headers.contains("X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant-Id"))
        #expect(headers.contains("X-Amzn-Bedrock-AgentCore-Runtime-Custom-User-Id"))
        #expect(tenant.propagate.first { $0.header.hasSuffix("Tenant-Id") }?.source == .tenant)
    }

    @Test func agentCoreTenantAlsoPassesWithTheRootSettings() throws {
        let settings = try #require(ConfigLoader.loadSettings(configFile: ExampleConfigTests.repoRoot + "/gatehouse.yaml", environment: [:]).value)
        let text = try String(contentsOfFile: ExampleConfigTests.repoRoot + "/examples/agentcore/tenants/agentcore-demo.yaml", encoding: .utf8)
        let result = ConfigLoader.parseTenant(yaml: text, fileStem: "agentcore-demo", displayFile: "agentcore-demo.yaml", settings: settings)
        if case .failure(let problems) = result { Issue.record("\(problems)") }
        #expect(result.value != nil)
    }
}
