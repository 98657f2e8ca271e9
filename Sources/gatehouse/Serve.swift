import GatehouseApp
import GatehouseCore

#if canImport(Glibc)
import Glibc
#endif

enum Serve {
    static func run(snapshot: ConfigSnapshot) async throws {
        let gatehouse = try Gatehouse(snapshot: snapshot)
        try await gatehouse.start()
        let signals = SignalWaiter(reloadOn: SIGHUP) { gatehouse.reloadTenants() }
        await signals.waitForTermination()
        await gatehouse.shutdown()
    }
}
