import GatehouseCore
import Synchronization

/// `(tenant, session id)`: a flow's identity in the store.
struct FlowKey: Hashable, Sendable {
    var tenant: TenantID
    var sessionID: String
}

/// Keeps two registrations of the same flow from interleaving inside this process.
///
/// Registration is check-then-write ("is there a live flow of another user? if not, write
/// mine") over a store that has no compare-and-set, so without this two concurrent requests
/// could both pass the check. A second registration while one is in progress is refused, not
/// queued: it is rare, and the caller can retry.
final class FlowGate: Sendable {
    private let busy = Mutex<Set<FlowKey>>([])

    func tryEnter(_ key: FlowKey) -> Bool {
        busy.withLock { $0.insert(key).inserted }
    }

    func leave(_ key: FlowKey) {
        _ = busy.withLock { $0.remove(key) }
    }
}
