/// A caller whose token verified: who they are and which tenant and IdP vouched for them.
public struct Principal: Sendable, Hashable {
    public var tenant: TenantID
    /// The name of the IdP (within the tenant) that issued the token.
    public var idp: String
    public var issuer: String
    public var subject: String
    /// `client_id`, else `azp`, when present.
    public var clientID: String?
    /// Scopes from `scope` (space-separated) or `scp` (string or array).
    public var scopes: [String]
    /// The token's whole payload, for claim propagation (scanned, materialised only where read).
    public var claims: ScannedObject
    /// `exp`, seconds since 1970.
    public var expiresAt: Int64

    public init(
        tenant: TenantID, idp: String, issuer: String, subject: String, clientID: String?, scopes: [String],
        claims: ScannedObject, expiresAt: Int64
    ) {
        self.tenant = tenant
        self.idp = idp
        self.issuer = issuer
        self.subject = subject
        self.clientID = clientID
        self.scopes = scopes
        self.claims = claims
        self.expiresAt = expiresAt
    }

    /// A principal whose claims are given as a value (an object; anything else counts as `{}`).
    public init(
        tenant: TenantID, idp: String, issuer: String, subject: String, clientID: String?, scopes: [String],
        claims: JSONValue, expiresAt: Int64
    ) {
        self.init(
            tenant: tenant, idp: idp, issuer: issuer, subject: subject, clientID: clientID, scopes: scopes,
            claims: ScannedObject(claims), expiresAt: expiresAt)
    }
}
