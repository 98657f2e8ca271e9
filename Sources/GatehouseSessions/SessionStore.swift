import GatehouseCore

/// The durable side of the session-binding table and of OAuth flow bindings (docs/sessions-and-oauth.md "Sessions and OAuth flows", docs/store-and-replicas.md "Store and replicas").
///
/// Every mutating call returns only once the change is durable (it survives `kill -9` of the
/// process). With a store of its own, the hot path never waits on the store for lookups:
/// `SessionTable` serves them from memory and uses the store only to persist changes and to
/// reload at start. With a shared store, memory is a cache: an id it does not hold is looked up
/// here, and a claim is decided here (`claimBinding`).
/// Implementations: `SQLiteSessionStore` (embedded default) and `PostgresStore` (module
/// GatehousePostgres, shared by several replicas); one conformance suite checks both.
public protocol SessionStore: Sendable {
    /// Every binding whose `expiresAt` is after `now`, for loading into memory at start.
    func loadBindings(now: Double) async throws -> [SessionBinding]
    /// Inserts or replaces the row for `binding.key`.
    func upsertBinding(_ binding: SessionBinding) async throws
    /// Binds `binding.key` to `binding.principal` unless a live row (`expires_at > now`) holds
    /// it already, atomically: of replicas claiming one id at once, exactly one wins. Returns
    /// the row in force afterwards — `binding` itself when it was written, else the live row
    /// (the same principal's, someone else's, or a revocation tombstone), left untouched.
    func claimBinding(_ binding: SessionBinding, now: Double) async throws -> SessionBinding
    /// The live row for `key`, if any (a replica that has not seen the binding yet asks here).
    func binding(_ key: SessionKey, now: Double) async throws -> SessionBinding?
    /// Live rows of `tenant`, of one subject when given (admin listing and revocation on a
    /// replica that may not hold every binding in memory).
    func bindings(tenant: TenantID, subject: String?, now: Double) async throws -> [SessionBinding]
    func deleteBinding(_ key: SessionKey) async throws
    /// Slides `lastSeenAt`/`expiresAt` of existing rows (batched; rows that vanished are skipped).
    func touchBindings(_ updates: [SessionTouch]) async throws
    /// Removes rows that expired before `now`; returns how many.
    func deleteExpiredBindings(now: Double) async throws -> Int

    func insertFlow(_ flow: OAuthFlowRecord) async throws
    /// The flow of `tenant` with this session id, if any (expired ones included: the caller decides).
    func flow(tenant: TenantID, sessionID: String) async throws -> OAuthFlowRecord?
    /// The flow whose start handle is `handle`, if any.
    func flow(startHandle: String) async throws -> OAuthFlowRecord?
    /// Flows of any tenant with this session id (the callback URL carries only the session id).
    func flows(sessionID: String) async throws -> [OAuthFlowRecord]
    /// Records the hash of the cookie secret the start URL handed to the browser. Throws
    /// `SessionStoreError.flowNotFound` unless the flow still has `startHandle`.
    ///
    /// This and `completeFlow` name the flow by its start handle too: the caller checked the
    /// record it read, and a flow that replaced it since (same tenant and session id, possibly
    /// another owner, after the first expired) must not receive that caller's cookie or completion.
    func setFlowCookie(tenant: TenantID, sessionID: String, startHandle: String, cookieHash: String) async throws
    /// Atomically marks the flow completed and erases its stored token. Returns true only for
    /// the one call that completed it (a flow completes at most once), and only while the flow
    /// is unexpired and still has `startHandle`.
    func completeFlow(tenant: TenantID, sessionID: String, startHandle: String, now: Double) async throws -> Bool
    /// Removes the flow of `tenant` with this session id, finished or not (admin revocation);
    /// returns how many were removed (0 or 1).
    func deleteFlows(tenant: TenantID, sessionID: String) async throws -> Int
    /// Removes every flow `subject` started in `tenant` (of one issuer when given); returns how many.
    func deleteFlows(tenant: TenantID, subject: String, issuer: String?) async throws -> Int
    /// Removes flows that expired before `now` (their tokens with them); returns how many.
    func deleteExpiredFlows(now: Double) async throws -> Int

    /// Whether the store answers (readiness).
    func ping() async -> Bool
}

/// A sliding-expiry update for one binding.
public struct SessionTouch: Sendable, Hashable {
    public var key: SessionKey
    public var lastSeenAt: Double
    public var expiresAt: Double

    public init(key: SessionKey, lastSeenAt: Double, expiresAt: Double) {
        self.key = key
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
    }
}
