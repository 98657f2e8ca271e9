import GatehouseCore
import Synchronization

/// The key set `/.gatehouse/jwks.json` serves: this replica's own public keys, newest first,
/// then those of the other live replicas (newest kid first), so that an agent verifies an
/// assertion from any replica whichever replica's key set it fetched. Other replicas' keys are
/// replaced as a whole each time they are re-read from the store.
public final class PublishedAssertionKeys: Sendable {
    /// This replica's keys, newest first.
    public let own: [PublicAssertionKey]
    private let state: Mutex<(peers: [PublicAssertionKey], document: [UInt8])>

    init(own: [PublicAssertionKey]) {
        self.own = own
        state = Mutex(([], Self.document(own)))
    }

    /// `{"keys":[...]}`.
    public var document: [UInt8] { state.withLock { $0.document } }

    /// The other replicas' keys in force.
    public var peers: [PublicAssertionKey] { state.withLock { $0.peers } }

    /// Publishes `keys` next to this replica's own, in place of the earlier ones. A kid that is
    /// one of this replica's own, or repeated, is published once (its first key).
    public func setPeers(_ keys: [PublicAssertionKey]) {
        var seen = Set(own.map(\.kid))
        let peers = keys.sorted { $0.kid > $1.kid }.filter { seen.insert($0.kid).inserted }
        let document = Self.document(own + peers)
        state.withLock { $0 = (peers, document) }
    }

    private static func document(_ keys: [PublicAssertionKey]) -> [UInt8] {
        Array(JSONValue.object(["keys": .array(keys.map(\.jwk))]).compactText.utf8)
    }
}
