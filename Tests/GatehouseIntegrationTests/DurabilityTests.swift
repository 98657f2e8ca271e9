import Foundation
import GatehouseCore
import GatehouseDemo
import NIOHTTP1
import NIOPosix
import Testing

/// docs/store-and-replicas.md "SQLite": a binding acknowledged to a client survives `kill -9` of Gatehouse.
@Suite(.serialized) struct DurabilityTests {
    @Test func aBindingAcknowledgedBeforeKill9IsStillEnforcedAfterRestart() async throws {
        let peers = try await LoopbackPeers.start(agentName: "durable-agent")
        let (idp, agent) = (peers.idp, peers.agent)
        let dir = try TempDir()
        try dir.writeOperatorConfig()
        try peers.writeAcmeTenant(dir, extra: "sessions:\n  - { header: \"Mcp-Session-Id\", issued_by: server }\n")
        let alice = idp.mintToken(subject: "alice")
        let bob = idp.mintToken(subject: "bob")

        let first = try await ServedGatehouse.start(dir)
        agent.setResponseHeaders(HTTPHeaders([("Mcp-Session-Id", "durable-session-1")]))
        let opened = try await RawClient(port: first.port).request("POST", "/t/acme/mcp", headers: [("Authorization", "Bearer \(alice)")], body: "{}")
        agent.setResponseHeaders([:])
        #expect(opened.status == 200)
        #expect(opened.header("Mcp-Session-Id") == "durable-session-1")
        // The client has its answer: kill -9 right now, no chance to flush anything.
        kill(first.process.processIdentifier, SIGKILL)
        let dead = await eventually(within: 10) { !first.process.isRunning }
        #expect(dead)

        let second = try await ServedGatehouse.start(dir)
        defer { second.process.terminate() }
        let client = RawClient(port: second.port)
        let owner = try await client.request("POST", "/t/acme/mcp", headers: [("Authorization", "Bearer \(alice)"), ("Mcp-Session-Id", "durable-session-1")], body: "{}")
        #expect(owner.status == 200)
        let other = try await client.request("POST", "/t/acme/mcp", headers: [("Authorization", "Bearer \(bob)"), ("Mcp-Session-Id", "durable-session-1")], body: "{}")
        #expect(other.status == 404)
        #expect(agent.received().count == 2, "bob's replay never reached the agent")
        second.process.terminate()
        _ = await eventually(within: 10) { !second.process.isRunning }

        try await peers.shutdown()
    }
}
