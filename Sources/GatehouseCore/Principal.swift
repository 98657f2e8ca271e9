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
    /// The token's whole payload, for claim propagation.
    public var claims: JSONValue
    /// `exp`, seconds since 1970.
    public var expiresAt: Int64

    public init(
        tenant: TenantID, idp: String, issuer: String, subject: String, clientID: String?, scopes: [String],
        claims: JSONValue, expiresAt: Int64
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
}
