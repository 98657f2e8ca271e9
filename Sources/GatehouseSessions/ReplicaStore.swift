import GatehouseCore

/// A replica's public assertion key as registered in the store. Public data, but whoever can
/// write the table can put anything here: readers validate a record before publishing it.
public struct ReplicaKeyRecord: Sendable, Hashable {
    public var kid: String
    /// The P-256 public key in X9.63 form (`0x04 || x || y`, 65 bytes).
    public var publicKey: [UInt8]
    /// Published until then (seconds since 1970); the replica holding the private key moves it
    /// forward while it runs.
    public var expiresAt: Double

    public init(kid: String, publicKey: [UInt8], expiresAt: Double) {
        self.kid = kid
        self.publicKey = publicKey
        self.expiresAt = expiresAt
    }
}

/// What the replicas of one deployment keep in the store about themselves: their public
/// assertion keys (each replica signs with a private key of its own, and every replica
/// publishes every live replica's public keys), and a few values that the first replica fixes
/// for all the others (the sealing key's check value, the salt of binding digests).
/// Implemented by both stores, checked by one conformance suite.
public protocol ReplicaStore: Sendable {
    /// Inserts each key, or moves the `expiresAt` of one already registered forward (never
    /// back). A kid registered with other key bytes keeps its bytes: a replica cannot replace
    /// another's key.
    func registerReplicaKeys(_ keys: [ReplicaKeyRecord]) async throws
    /// Keys with `expiresAt > now`, the longest-lived first, at most `limit`.
    func replicaKeys(now: Double, limit: Int) async throws -> [ReplicaKeyRecord]
    /// Removes keys with `expiresAt <= now`; returns how many.
    func deleteExpiredReplicaKeys(now: Double) async throws -> Int
    /// The value stored under `name`, after storing `proposed` there if there was none. Of
    /// replicas proposing at once, every one gets the same, first value; it never changes after.
    func settledValue(_ name: String, proposing proposed: [UInt8]) async throws -> [UInt8]
    /// Marks replica `id` live until `expiresAt` (moving an earlier time forward or back: the
    /// replica's own heartbeat is the truth), forgets replicas whose time has passed, and
    /// returns how many are live at `now`, this one included: what per-replica limit shares
    /// are computed from.
    func announceReplica(_ id: String, until expiresAt: Double, now: Double) async throws -> Int
    /// Forgets replica `id` (it is stopping): the others count one fewer at their next heartbeat.
    func withdrawReplica(_ id: String) async throws
}
