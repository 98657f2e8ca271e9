import GatehouseApp
import GatehouseConfig
import GatehouseCore
import GatehouseDemo
import NIOPosix
import Testing

/// Tenant files change while Gatehouse runs: a good change goes live, a broken one is refused
/// and the previous configuration keeps serving (docs/admin-api.md "Reload").
@Suite(.serialized) struct ReloadTests {
    @Test func aChangedTenantFileGoesLiveAndABrokenOneIsRefused() async throws {
        let peers = try await LoopbackPeers.start(agentName: "reload-agent")
        let (idp, agent) = (peers.idp, peers.agent)
        let dir = try TempDir()
        try dir.writeOperatorConfig()
        func writeTenant(extraHeader: Bool) throws {
            try peers.writeAcmeTenant(dir, extra: "propagate:\n  X-User-Id: \"sub\"\n" + (extraHeader ? "  X-User-Email: \"email\"\n" : ""))
        }
        try writeTenant(extraHeader: false)
        let snapshot = try ConfigLoader.load(configFile: dir.path + "/gatehouse.yaml", environment: [:]).get()
        var options = Gatehouse.Options()
        options.accessLog = false
        options.threads = 1
        let gatehouse = try Gatehouse(snapshot: snapshot, options: options)
        try await gatehouse.start()
        let client = RawClient(port: gatehouse.dataPort)
        let token = idp.mintToken()

        _ = try await client.request("GET", "/t/acme/1", headers: [("Authorization", "Bearer \(token)")])
        #expect(agent.received().last?.header("X-User-Email") == nil)

        try writeTenant(extraHeader: true)
        let live = await eventually(within: 30) {
            _ = try? await client.request("GET", "/t/acme/2", headers: [("Authorization", "Bearer \(token)")])
            return agent.received().last?.header("X-User-Email") == "alice@acme.example"
        }
        #expect(live, "the changed file did not go live")

        try dir.write("tenants/acme.yaml", "id: acme\nidps: {\n")
        let refused = await eventually(within: 30) { gatehouse.metrics.configReloads.value(["error"]) >= 1 }
        #expect(refused)
        let still = try await client.request("GET", "/t/acme/3", headers: [("Authorization", "Bearer \(token)")])
        #expect(still.status == 200)
        #expect(agent.received().last?.header("X-User-Email") == "alice@acme.example")

        await gatehouse.shutdown()
        try await peers.shutdown()
    }
}
