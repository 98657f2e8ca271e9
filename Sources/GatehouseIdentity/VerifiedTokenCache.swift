import Crypto
import GatehouseCore
import Synchronization

/// Tokens that verified recently, so that a client repeating its token skips the signature.
///
/// Key: the tenant the request named ("" when the tenant was chosen by the token's issuer) and
/// the token's SHA-256; the token itself is never stored. A hit still honours `exp` (with the
/// same skew as the verifier) and is valid only while every IdP that was considered for the
/// token is still in the snapshot with the same configuration: a removed or edited IdP, or a
/// new tenant that would make an issuer-chosen tenant ambiguous, turns the hit into a miss.
///
/// Bounded: each shard evicts in insertion order (a ring of keys), which is O(1) and needs no
/// bookkeeping on hits. Shards have their own lock so concurrent requests rarely contend.
public final class VerifiedTokenCache: Sendable {
    struct Key: Hashable, Sendable {
        var scope: String
        /// The token's SHA-256 as four words (hashes and compares faster than the digest type).
        var digest: (UInt64, UInt64, UInt64, UInt64)

        static func == (a: Key, b: Key) -> Bool { a.digest == b.digest && a.scope == b.scope }

        func hash(into hasher: inout Hasher) {
            hasher.combine(digest.0)
            hasher.combine(scope)
        }
    }

    struct Value: Sendable {
        var principal: Principal
        /// Every IdP the token was checked against, the accepting one included.
        var candidates: [IdPCandidates.Candidate]
    }

    struct Shard {
        var entries: [Key: (value: Value, slot: Int)] = [:]
        var ring: [Key] = []
        var next = 0
        let capacity: Int

        mutating func insert(_ key: Key, _ value: Value) {
            if let existing = entries[key] {
                entries[key] = (value, existing.slot)
                return
            }
            let slot: Int
            if ring.count < capacity {
                slot = ring.count
                ring.append(key)
            } else {
                slot = next
                let old = ring[slot]
                if entries[old]?.slot == slot { entries.removeValue(forKey: old) }
                ring[slot] = key
                next = (next + 1) % capacity
            }
            entries[key] = (value, slot)
        }
    }

    final class ShardBox: Sendable {
        let shard: Mutex<Shard>
        init(capacity: Int) { shard = Mutex(Shard(capacity: capacity)) }
    }

    private let shards: [ShardBox]
    private let metrics: GatehouseMetrics?

    /// `capacity` 0 turns the cache off.
    public init(capacity: Int, metrics: GatehouseMetrics?) {
        let count = capacity >= 1024 ? 16 : 1
        let perShard = max(capacity, 0) / count
        self.shards = perShard == 0 ? [] : (0..<count).map { _ in ShardBox(capacity: perShard) }
        self.metrics = metrics
    }

    public var isEnabled: Bool { !shards.isEmpty }

    /// Entries currently held (including ones that would now miss).
    public var count: Int { shards.reduce(0) { $0 + $1.shard.withLock { $0.entries.count } } }

    /// The cache key of `token` in `tenant`'s scope: its SHA-256, computed once per request and
    /// used for both the lookup and the insert after a verification.
    func key(token: String, tenant: TenantID?) -> Key {
        Key(scope: tenant?.rawValue ?? "", digest: Self.digest(token))
    }

    func lookup(token: String, tenant: TenantID?, snapshot: ConfigSnapshot, now: Double, skew: Double) -> Principal? {
        guard !shards.isEmpty else { return nil }
        return lookup(key: key(token: token, tenant: tenant), tenant: tenant, snapshot: snapshot, now: now, skew: skew)
    }

    func lookup(key: Key, tenant: TenantID?, snapshot: ConfigSnapshot, now: Double, skew: Double) -> Principal? {
        guard !shards.isEmpty else { return nil }
        let box = shard(for: key)
        let value = box.shard.withLock { $0.entries[key]?.value }
        guard let value else {
            metrics?.tokenCache.increment(["miss"])
            return nil
        }
        let principal = value.principal
        let valid = now < Double(principal.expiresAt) + skew
            && IdPCandidates.find(issuer: principal.issuer, tenant: tenant, in: snapshot) == value.candidates
        guard valid else {
            box.shard.withLock { _ = $0.entries.removeValue(forKey: key) }
            metrics?.tokenCache.increment(["miss"])
            return nil
        }
        metrics?.tokenCache.increment(["hit"])
        return principal
    }

    func insert(token: String, tenant: TenantID?, principal: Principal, candidates: [IdPCandidates.Candidate]) {
        guard !shards.isEmpty else { return }
        insert(key: key(token: token, tenant: tenant), principal: principal, candidates: candidates)
    }

    func insert(key: Key, principal: Principal, candidates: [IdPCandidates.Candidate]) {
        guard !shards.isEmpty else { return }
        shard(for: key).shard.withLock { $0.insert(key, Value(principal: principal, candidates: candidates)) }
    }

    /// Drops every entry that involved this IdP (it was removed or changed).
    public func invalidate(tenant: TenantID, idp: String) {
        for box in shards {
            box.shard.withLock { shard in
                shard.entries = shard.entries.filter { entry in
                    !entry.value.value.candidates.contains { $0.tenant == tenant && $0.idp.name == idp }
                }
            }
        }
    }

    public func removeAll() {
        for box in shards {
            box.shard.withLock { shard in
                shard = Shard(capacity: shard.capacity)
            }
        }
    }

    private func shard(for key: Key) -> ShardBox {
        let index = Int(key.digest.1 % UInt64(shards.count))
        return shards[index]
    }

    private static func digest(_ token: String) -> (UInt64, UInt64, UInt64, UInt64) {
        var hasher = SHA256()
        let done: Void? = token.utf8.withContiguousStorageIfAvailable { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        if done == nil { hasher.update(data: Array(token.utf8)) }
        return hasher.finalize().withUnsafeBytes { raw in
            (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
             raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        }
    }
}
