import GatehouseCore
import Logging
import Synchronization

/// The session-binding table of docs/sessions-and-oauth.md "Session binding": lookups on the hot path are served from memory
/// (sharded, synchronous, no I/O); every new binding is written to the store and durable
/// before the response that created it reaches the client; sliding expiry is persisted in
/// batches; a sweeper removes expired rows.
public final class SessionTable: Sendable {
    public enum Claim: Sendable {
        /// Newly bound to the caller: persist it (`persist`) before answering.
        case bound(SessionBinding)
        /// Already bound to the same principal.
        case existing(SessionBinding)
        /// Bound to someone else.
        case conflict(SessionBinding)
    }

    final class Shard: Sendable {
        let rows = Mutex(ShardRows())
    }

    private let shards: [Shard]
    private let store: any SessionStore
    private let clock: WallClock
    private let metrics: GatehouseMetrics?
    private let logger: Logger
    private let pendingTouches = Mutex<[SessionKey: SessionTouch]>([:])
    private let changeDigester = Mutex<BindingDigester?>(nil)
    private let counts = Mutex<[TenantID: Int]>([:])
    /// Told about every binding this replica bound, revoked or ended (replica sync).
    private let announcer = Mutex<(@Sendable (SessionKey) async -> Void)?>(nil)
    /// Store deletes started by `end` and not finished yet: a claim of the same id waits for
    /// its delete, or it would lose to the row that was just ended.
    private let ending = Mutex<(tasks: [SessionKey: (id: UInt64, task: Task<Void, Never>)], next: UInt64)>(([:], 0))
    /// True when other replicas write the same store: memory is then a cache, and a key it
    /// does not hold is looked up in the store before it is called unknown.
    public let shared: Bool

    public init(store: any SessionStore, shared: Bool = false, clock: @escaping WallClock, metrics: GatehouseMetrics?, logger: Logger) {
        self.store = store
        self.shared = shared
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
        self.shards = (0..<16).map { _ in Shard() }
    }

    private func shard(_ key: SessionKey) -> Shard {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }

    // MARK: - Hot path (synchronous, memory only)

    /// The live binding for `key`, or nil when there is none or it expired.
    public func lookup(_ key: SessionKey, now: Double) -> SessionBinding? {
        guard let row = shard(key).rows.withLock({ $0[key] }), row.expiresAt > now else { return nil }
        return row
    }

    /// Binds `key` to `principal` unless it is bound already (atomically: of two concurrent
    /// first uses, exactly one wins).
    public func claim(
        _ key: SessionKey, principal: BoundPrincipal, upstream: String?, issuedBy: SessionRule.IssuedBy, ttl: Double, now: Double
    ) -> Claim {
        let (result, grew): (Claim, Bool) = shard(key).rows.withLock { rows in
            if let existing = rows[key], existing.expiresAt > now {
                return (existing.principal == principal ? .existing(existing) : .conflict(existing), false)
            }
            let binding = SessionBinding(
                key: key, principal: principal, upstream: upstream, issuedBy: issuedBy, createdAt: now, lastSeenAt: now,
                expiresAt: now + ttl)
            // Replacing an expired row keeps the count as it is.
            let replaced = rows.updateValue(binding, forKey: key) != nil
            return (.bound(binding), !replaced)
        }
        if grew { adjustCount(key.tenant, by: 1) }
        return result
    }

    /// Slides the binding's expiry; the store catches up in the next batch.
    public func touch(_ key: SessionKey, ttl: Double, now: Double) {
        let updated: SessionTouch? = shard(key).rows.withLock { rows in
            guard var row = rows[key] else { return nil }
            // Only worth a write when the expiry moved noticeably.
            guard now - row.lastSeenAt >= 1 else { return nil }
            row.lastSeenAt = now
            row.expiresAt = now + ttl
            rows[key] = row
            return SessionTouch(key: key, lastSeenAt: now, expiresAt: row.expiresAt)
        }
        if let updated { pendingTouches.withLock { $0[key] = updated } }
    }

    // MARK: - Durable changes

    /// Calls `announce` for every binding this replica binds, revokes or ends from now on.
    public func setAnnouncer(_ announce: @escaping @Sendable (SessionKey) async -> Void) {
        announcer.withLock { $0 = announce }
    }

    private func announce(_ key: SessionKey) async {
        if let announce = announcer.withLock({ $0 }) { await announce(key) }
    }

    /// Makes a newly claimed binding durable, atomically against every other writer of the
    /// store (another replica may have bound the same id first). Returns the binding in force:
    /// `binding` itself, or the row that won — which then replaces the claim in memory, so the
    /// caller must compare principals. On failure the claim is undone, so memory never holds a
    /// binding the store lost.
    @discardableResult
    public func persist(_ binding: SessionBinding) async throws -> SessionBinding {
        let winner: SessionBinding
        do {
            // The id was ended a moment ago and its store delete is still running: that delete
            // goes first, or the old row would win the claim. (Checking only after a lost claim
            // missed a delete that finished in between.)
            if let pending = ending.withLock({ $0.tasks[binding.key]?.task }) { await pending.value }
            winner = try await store.claimBinding(binding, now: binding.createdAt)
        } catch {
            forget(binding.key)
            throw error
        }
        if winner == binding {
            if shared { Task { await self.announce(binding.key) } }
        } else {
            install(winner, replacing: binding)
        }
        return winner
    }

    /// The live binding for `key` from the store, installed in memory (a replica sharing the
    /// store asks this before calling a key unknown). Throws when the store failed.
    public func fetch(_ key: SessionKey) async throws -> SessionBinding? {
        let now = clock()
        guard let row = try await store.binding(key, now: now) else { return nil }
        install(row, replacing: nil)
        return row
    }

    /// Puts `row` in memory unless memory holds something newer than `replacing` meanwhile.
    private func install(_ row: SessionBinding, replacing expected: SessionBinding?) {
        let grew: Bool = shard(row.key).rows.withLock { rows in
            let current = rows[row.key]
            if let expected, current != expected { return false }
            rows[row.key] = row
            return current == nil
        }
        if grew { adjustCount(row.key.tenant, by: 1) }
    }

    /// Removes a binding (DELETE answered 2xx, upstream 404, or revocation): gone from memory at
    /// once, from the store when this returns.
    public func remove(_ key: SessionKey) async {
        evict(key)
        await deleteStored(key)
    }

    /// `remove` for the hot path: memory now, the store in the background. If the id is bound
    /// again before the background delete lands (an upstream reissuing it), that new binding
    /// keeps its row: it is written back after the delete.
    public func end(_ key: SessionKey) {
        evict(key)
        ending.withLock { pending in
            let previous = pending.tasks[key]?.task
            let id = pending.next
            pending.next &+= 1
            pending.tasks[key] = (id, Task {
                await previous?.value
                await self.deleteStored(key)
                self.ending.withLock { if $0.tasks[key]?.id == id { $0.tasks[key] = nil } }
            })
        }
    }

    /// Drops a binding from memory at once (the store follows with `remove`).
    public func evict(_ key: SessionKey) {
        forget(key)
        pendingTouches.withLock { _ = $0.removeValue(forKey: key) }
    }

    // MARK: - Change digests (shared store)

    /// Indexes every binding by its digest from now on, so that `evict(digest:)` finds it: the
    /// way other replicas name a binding in their change notifications (`BindingDigest`).
    public func indexForReplicaChanges(_ digester: BindingDigester) {
        changeDigester.withLock { $0 = digester }
        for shard in shards { shard.rows.withLock { $0.index(by: digester) } }
    }

    /// The digest naming `key` in change notifications; nil until `indexForReplicaChanges`.
    public func changeDigest(_ key: SessionKey) -> BindingDigest? {
        changeDigester.withLock { $0 }?.digest(key)
    }

    /// `evict` for the binding another replica named by its digest; nothing when this replica
    /// holds no such binding (or the digest is made up: notifications are not trusted).
    public func evict(digest: BindingDigest) {
        for shard in shards {
            if let key = shard.rows.withLock({ $0.key(for: digest) }) {
                evict(key)
                return
            }
        }
    }

    private func deleteStored(_ key: SessionKey) async {
        do {
            try await store.deleteBinding(key)
            if shared { await announce(key) }
        } catch {
            logger.error("session binding removal not persisted", metadata: ["tenant": "\(key.tenant)", "error": "\(error)"])
        }
    }

    private func forget(_ key: SessionKey) {
        let removed = shard(key).rows.withLock { $0.removeValue(forKey: key) } != nil
        if removed { adjustCount(key.tenant, by: -1) }
    }

    // MARK: - Background work

    /// Loads every live binding from the store (at start). `replacing`: memory becomes exactly
    /// what the store holds (a replica re-syncing after it may have missed changes).
    public func load(replacing: Bool = false) async throws {
        let now = clock()
        let rows = try await store.loadBindings(now: now)
        if replacing {
            var byShard = [[SessionKey: SessionBinding]](repeating: [:], count: shards.count)
            for row in rows { byShard[Int(UInt(bitPattern: row.key.hashValue) % UInt(shards.count))][row.key] = row }
            for (i, shard) in shards.enumerated() { shard.rows.withLock { $0.replaceAll(with: byShard[i]) } }
            var perTenant: [TenantID: Int] = [:]
            for row in rows { perTenant[row.key.tenant, default: 0] += 1 }
            let previous = counts.withLock { c in defer { c = perTenant }; return c }
            for tenant in Set(previous.keys).union(perTenant.keys) {
                metrics?.sessionBindings.set([tenant.rawValue], Double(perTenant[tenant] ?? 0))
            }
        } else {
            for row in rows {
                let inserted = shard(row.key).rows.withLock { $0.updateValue(row, forKey: row.key) == nil }
                if inserted { adjustCount(row.key.tenant, by: 1) }
            }
        }
        logger.info("session bindings loaded", metadata: ["count": "\(rows.count)"])
    }

    /// Persists the sliding-expiry updates collected since the last call.
    public func flushTouches() async {
        let batch = pendingTouches.withLock { pending -> [SessionTouch] in
            defer { pending.removeAll(keepingCapacity: true) }
            return Array(pending.values)
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.touchBindings(batch)
        } catch {
            // Not fatal: the rows keep their older expiry; the next touch retries.
            logger.warning("session expiry updates not persisted", metadata: ["count": "\(batch.count)", "error": "\(error)"])
        }
    }

    /// Drops expired bindings from memory and the store.
    public func sweep() async {
        let now = clock()
        for shard in shards {
            let expired = shard.rows.withLock { rows -> [SessionKey] in
                let keys = rows.values.filter { $0.expiresAt <= now }.map(\.key)
                for k in keys { rows.removeValue(forKey: k) }
                return keys
            }
            for key in expired { adjustCount(key.tenant, by: -1) }
        }
        do {
            _ = try await store.deleteExpiredBindings(now: now)
        } catch {
            logger.warning("expired session bindings not swept from the store", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Revocation (admin API)

    /// Revokes a live binding: from now on every request with this id is refused (404 for a
    /// server-issued session, 403 for a client-issued one) until the binding would have expired,
    /// and nobody can claim the id meanwhile. Memory first, then the store. Returns false when
    /// there is no live, unrevoked binding. Throws when the store failed (memory keeps the
    /// revocation: refusing is the safe side).
    public func revoke(_ key: SessionKey) async throws -> Bool {
        if shared { _ = try await fetch(key) }
        let now = clock()
        let revoked: SessionBinding? = shard(key).rows.withLock { rows in
            guard var row = rows[key], row.expiresAt > now, !row.principal.isRevoked else { return nil }
            row.principal = .revoked
            rows[key] = row
            return row
        }
        guard let revoked else { return false }
        pendingTouches.withLock { _ = $0.removeValue(forKey: key) }
        try await store.upsertBinding(revoked)
        if shared { await announce(key) }
        return true
    }

    /// Revokes every live binding of `subject` in `tenant` (of one issuer when given); returns how many.
    public func revoke(tenant: TenantID, subject: String, issuer: String? = nil) async throws -> Int {
        if shared { try await refresh(tenant: tenant, subject: subject) }
        var count = 0
        for binding in bindings(tenant: tenant, subject: subject, now: clock()) {
            if let issuer, binding.principal.issuer != issuer { continue }
            if try await revoke(binding.key) { count += 1 }
        }
        return count
    }

    /// Installs the store's live rows of `tenant` (one subject's, when given) in memory: on a
    /// shared store, other replicas' bindings this one has not seen yet.
    public func refresh(tenant: TenantID, subject: String? = nil) async throws {
        for row in try await store.bindings(tenant: tenant, subject: subject, now: clock()) {
            let current = shard(row.key).rows.withLock { $0[row.key] }
            // Memory's own expiry may be later (touches not flushed yet); the principal is the store's.
            if let current, current.principal == row.principal { continue }
            install(row, replacing: current)
        }
    }

    /// Live, unrevoked bindings of a tenant, optionally filtered (for the admin API).
    public func bindings(tenant: TenantID, subject: String? = nil, header: String? = nil, now: Double) -> [SessionBinding] {
        let canonicalHeader = header.map(HeaderName.canonical)
        var out: [SessionBinding] = []
        for shard in shards {
            shard.rows.withLock { rows in
                for row in rows.values where row.key.tenant == tenant && row.expiresAt > now && !row.principal.isRevoked {
                    if let subject, row.principal.subject != subject { continue }
                    if let canonicalHeader, row.key.header != canonicalHeader { continue }
                    out.append(row)
                }
            }
        }
        return out.sorted { ($0.createdAt, $0.key.id) < ($1.createdAt, $1.key.id) }
    }

    public func count(tenant: TenantID) -> Int { counts.withLock { $0[tenant] ?? 0 } }

    private func adjustCount(_ tenant: TenantID, by delta: Int) {
        let value = counts.withLock { c -> Int in
            c[tenant, default: 0] += delta
            return c[tenant] ?? 0
        }
        metrics?.sessionBindings.set([tenant.rawValue], Double(max(0, value)))
    }

    /// A short, stable, non-reversible label for a session id in logs (never the id itself); the
    /// same label OAuth flow log lines carry, so the two can be correlated.
    public static func logLabel(_ id: String) -> String { FlowSecrets.logID(id) }
}
