import GatehouseCore
import Testing
@testable import GatehouseConfig

/// Which settings a reload of gatehouse.yaml applies, and which wait for a restart.
@Suite struct LiveSettingsTests {
    @Test func liveSettingsApplyAndTheOthersWaitForARestart() {
        let running = GatehouseSettings()
        var file = running
        file.limits.maxRequestBodyBytes = 1024
        file.identity.clockSkewSeconds = 5
        file.assertion.ttlSeconds = 30
        file.logLevel = .debug
        file.listen = SocketAddressSpec(host: "0.0.0.0", port: 9999)
        file.store = .postgres(url: "postgres://x/y")
        file.assertion.keyDir = "/elsewhere"
        let change = LiveSettings.merge(running: running, file: file)
        #expect(change.applied == ["limits.max_request_body_bytes", "identity.clock_skew_seconds", "assertion.ttl_seconds", "log_level"])
        #expect(change.needsRestart == ["listen", "store", "assertion.key_dir"])
        #expect(change.settings.limits.maxRequestBodyBytes == 1024 && change.settings.logLevel == .debug)
        #expect(change.settings.listen == running.listen && change.settings.store == running.store, "restart-only values keep their running value")
        #expect(change.settings.assertion.keyDir == running.assertion.keyDir)
        let same = LiveSettings.merge(running: running, file: running)
        #expect(same.applied.isEmpty && same.needsRestart.isEmpty && same.settings == running)
    }
}
