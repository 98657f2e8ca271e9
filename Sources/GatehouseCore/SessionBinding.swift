/// Who a session or flow is bound to: the verified caller's issuer, subject and client.
public struct BoundPrincipal: Sendable, Hashable, CustomStringConvertible {
    public var issuer: String
    public var subject: String
    public var clientID: String?

    public init(issuer: String, subject: String, clientID: String?) {
        self.issuer = issuer
        self.subject = subject
        self.clientID = clientID
    }

    public init(_ principal: Principal) {
        self.init(issuer: principal.issuer, subject: principal.subject, clientID: principal.clientID)
    }

    public var description: String { subject }

    /// What a revoked binding is bound to (admin API): no verified caller has an empty subject,
    /// so every request with the id is refused until the binding expires, and the id cannot be
    /// claimed again meanwhile.
    public static let revoked = BoundPrincipal(issuer: "", subject: "", clientID: nil)

    public var isRevoked: Bool { subject.isEmpty }
}

/// `(tenant, header, session id)`: the key of the session-binding table (docs/sessions-and-oauth.md "Session binding"). The header
/// is stored canonical (`HeaderName.canonical`), so `Mcp-Session-Id` and `mcp_session_id` are
/// one key. The same id in two tenants is two unrelated keys.
public struct SessionKey: Sendable, Hashable {
    public var tenant: TenantID
    public var header: String
    public var id: String

    public init(tenant: TenantID, header: String, id: String) {
        self.tenant = tenant
        self.header = HeaderName.canonical(header)
        self.id = id
    }
}

/// One row of the session-binding table.
public struct SessionBinding: Sendable, Hashable {
    public var key: SessionKey
    public var principal: BoundPrincipal
    /// The upstream instance (`host:port`) the session lives on; nil for client-issued sessions
    /// that have not been routed yet.
    public var upstream: String?
    public var issuedBy: SessionRule.IssuedBy
    /// Seconds since 1970.
    public var createdAt: Double
    public var lastSeenAt: Double
    public var expiresAt: Double

    public init(
        key: SessionKey, principal: BoundPrincipal, upstream: String?, issuedBy: SessionRule.IssuedBy, createdAt: Double,
        lastSeenAt: Double, expiresAt: Double
    ) {
        self.key = key
        self.principal = principal
        self.upstream = upstream
        self.issuedBy = issuedBy
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
    }

    /// Session ids are opaque but must be plain: visible ASCII, 1–256 bytes. Anything else is
    /// refused before it can reach a log, a store or an upstream.
    public static func isValidID(_ id: String) -> Bool {
        let count = id.utf8.count
        guard count >= 1, count <= 256 else { return false }
        return id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}

/// A verified OAuth 3-legged flow (docs/sessions-and-oauth.md "Verified OAuth 3-legged flows"): who started it, where it goes, and (encrypted)
/// the caller's token to hand to the tenant's completion URL.
public struct OAuthFlowRecord: Sendable, Hashable {
    public var tenant: TenantID
    /// The flow's `session_id` (AgentCore) or `elicitationId` (MCP).
    public var sessionID: String
    public var principal: BoundPrincipal
    public var authorizationURL: String
    /// Opaque random handle used in the start URL.
    public var startHandle: String
    /// SHA-256 (hex) of the browser cookie secret set by the start URL; nil until started.
    public var cookieHash: String?
    /// AES-GCM sealed box (nonce ‖ ciphertext ‖ tag) of the caller's original JWT.
    public var sealedUserToken: [UInt8]
    public var createdAt: Double
    public var expiresAt: Double
    public var completedAt: Double?

    public init(
        tenant: TenantID, sessionID: String, principal: BoundPrincipal, authorizationURL: String, startHandle: String,
        cookieHash: String? = nil, sealedUserToken: [UInt8], createdAt: Double, expiresAt: Double, completedAt: Double? = nil
    ) {
        self.tenant = tenant
        self.sessionID = sessionID
        self.principal = principal
        self.authorizationURL = authorizationURL
        self.startHandle = startHandle
        self.cookieHash = cookieHash
        self.sealedUserToken = sealedUserToken
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.completedAt = completedAt
    }
}
