import GatehouseApp
import GatehouseCore

#if canImport(Glibc)
import Glibc
#endif

enum Serve {
    static func run(snapshot: ConfigSnapshot) async throws {
        let gatehouse = try Gatehouse(snapshot: snapshot)
        try await gatehouse.start()
        let signals = SignalWaiter(reloadOn: SIGHUP) {
            gatehouse.reloadSettings()
            gatehouse.reloadTenants()
            gatehouse.reloadTLS()
        }
        // SIGTERM drains for up to limits.shutdown_grace_seconds; a second signal ends it at once.
        await signals.waitForTermination(another: { gatehouse.endGraceNow() })
        await gatehouse.shutdown(grace: nil)
    }
}
