import Foundation
import GatehouseCore
import Testing

/// `gatehouse.yaml` changed under a running `serve`: live settings apply without a restart
/// (watched, and on SIGHUP), a restart-only one is logged and keeps its value, a broken file
/// keeps everything as it was.
@Suite(.serialized) struct LiveSettingsReloadTests {
    @Test func aChangedConfigFileAppliesWhatCanChangeLive() async throws {
        let peers = try await LoopbackPeers.start(agentName: "live-settings")
        let dir = try TempDir()
        try dir.writeOperatorConfig(extra: "limits:\n  max_request_body_bytes: 1000000\n")
        try peers.writeAcmeTenant(dir)
        let served = try await ServedGatehouse.start(dir)
        defer { _ = served.process.isRunning ? served.process.terminate() : () }
        let process = served.process
        let log = served.stderr
        let port = served.port
        let client = RawClient(port: port)
        let auth = ("Authorization", "Bearer \(peers.idp.mintToken())")
        let body = String(repeating: "x", count: 5000)
        // Ready: the IdP's keys are fetched (on a loaded machine the first fetch can fail, and
        // the next is allowed only after jwks_min_refresh_seconds).
        let ready = await eventually(within: 90) { (try? await client.request("GET", "/t/acme/ready", headers: [auth]).status) == 200 }
        #expect(ready, "\(log.text.suffix(2000))")
        let first = try await client.request("POST", "/t/acme/upload", headers: [auth], body: body)
        #expect(first.status == 200, "\(first.status) \(first.text)")

        // Watched: the new body limit applies without a signal; `listen` needs a restart.
        try dir.writeOperatorConfig(listen: "127.0.0.1:1", extra: "limits:\n  max_request_body_bytes: 1000\nlog_level: debug\n")
        #expect(await eventually(within: 10) { log.text.contains("settings reloaded") }, "\(log.text)")
        #expect(log.text.contains("limits.max_request_body_bytes") && log.text.contains("log_level"))
        #expect(log.text.contains("needs a restart") && log.text.contains("\"setting\":\"listen\""), "\(log.text)")
        #expect(try await client.request("POST", "/t/acme/upload", headers: [auth], body: body).status == 413)
        let still = try await RawClient(port: port).request("GET", "/t/acme/still", headers: [auth])
        #expect(still.status == 200, "the old listener serves on: \(still.status) \(still.text)")

        // Broken: refused, the settings in force stay.
        try dir.writeOperatorConfig(extra: "limits:\n  max_request_body_bytes: [\n")
        kill(process.processIdentifier, SIGHUP)
        #expect(await eventually(within: 10) { log.text.contains("gatehouse.yaml reload refused") }, "\(log.text)")
        #expect(try await client.request("POST", "/t/acme/upload", headers: [auth], body: body).status == 413)

        // Fixed again, on SIGHUP.
        try dir.writeOperatorConfig(extra: "limits:\n  max_request_body_bytes: 1000000\n")
        kill(process.processIdentifier, SIGHUP)
        #expect(await eventually(within: 30) { (try? await client.request("POST", "/t/acme/upload", headers: [auth], body: body).status) == 200 })
        #expect(await served.stop())
        try await peers.shutdown()
    }
}
