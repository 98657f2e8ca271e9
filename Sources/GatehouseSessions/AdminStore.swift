import GatehouseCore

/// An IdP a tenant admin registered through the admin API, as stored: the submitted fields as
/// JSON (without `name`), re-validated whenever it is loaded.
public struct RegisteredIdPRecord: Sendable, Hashable {
    public var tenant: TenantID
    public var name: String
    /// Compact JSON of the submitted fields.
    public var document: String
    public var createdAt: Double
    public var updatedAt: Double

    public init(tenant: TenantID, name: String, document: String, createdAt: Double, updatedAt: Double) {
        self.tenant = tenant
        self.name = name
        self.document = document
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A tenant admin key. The key itself is shown once, when created; only its SHA-256 is kept.
public struct AdminKeyRecord: Sendable, Hashable {
    /// Public identifier, also part of the key (`ghk_<id>_<secret>`); names the key in audit entries.
    public var id: String
    public var tenant: TenantID
    public var name: String?
    /// SHA-256 (hex) of the whole key.
    public var secretHash: String
    public var createdAt: Double
    public var revokedAt: Double?

    public init(id: String, tenant: TenantID, name: String?, secretHash: String, createdAt: Double, revokedAt: Double? = nil) {
        self.id = id
        self.tenant = tenant
        self.name = name
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// One entry of the audit log: who (`operator` or a key id) did what to which object, and how
/// it ended. `tenant` is nil for actions on Gatehouse as a whole (a reload).
public struct AuditEntry: Sendable, Hashable {
    /// Assigned by the store, increasing; 0 before it is stored.
    public var sequence: Int64
    public var tenant: TenantID?
    public var time: Double
    public var actor: String
    public var action: String
    public var target: String
    /// `ok`, or a short word for how it failed (`invalid`, `conflict`, `not_found`, `error`).
    public var outcome: String
    /// A human-readable detail (never a secret).
    public var detail: String?

    public init(
        sequence: Int64 = 0, tenant: TenantID?, time: Double, actor: String, action: String, target: String, outcome: String,
        detail: String? = nil
    ) {
        self.sequence = sequence
        self.tenant = tenant
        self.time = time
        self.actor = actor
        self.action = action
        self.target = target
        self.outcome = outcome
        self.detail = detail
    }
}

/// The admin API's durable state (docs/admin-api.md "Admin API", docs/store-and-replicas.md "What is shared"): registered IdPs, tenant admin keys and the
/// audit log. Every mutation takes the audit entry that records it and writes both in one
/// transaction: a change without its entry, or an entry for a change that did not happen,
/// cannot exist.
public protocol AdminStore: Sendable {
    func registeredIdPs() async throws -> [RegisteredIdPRecord]
    /// Inserts or replaces (tenant, name); a replacement keeps `createdAt`.
    func putRegisteredIdP(_ record: RegisteredIdPRecord, audit: AuditEntry) async throws
    /// False (and no audit entry) when there was no such IdP.
    func deleteRegisteredIdP(tenant: TenantID, name: String, audit: AuditEntry) async throws -> Bool

    func insertAdminKey(_ key: AdminKeyRecord, audit: AuditEntry) async throws
    func adminKey(id: String) async throws -> AdminKeyRecord?
    /// Keys of a tenant, revoked ones included, oldest first.
    func adminKeys(tenant: TenantID) async throws -> [AdminKeyRecord]
    /// False (and no audit entry) when the tenant has no unrevoked key with this id.
    func revokeAdminKey(tenant: TenantID, id: String, now: Double, audit: AuditEntry) async throws -> Bool

    /// Records an action that changed nothing (refused or failed).
    func appendAudit(_ entry: AuditEntry) async throws
    /// Newest first: entries of `tenant` (every entry when nil) with `sequence < before`.
    func auditEntries(tenant: TenantID?, before: Int64?, limit: Int) async throws -> [AuditEntry]
}

/// A store that serves the data plane, the admin API and the replicas' own records
/// (`SQLiteSessionStore`, `PostgresStore`).
public typealias GatehouseStore = SessionStore & AdminStore & ReplicaStore
