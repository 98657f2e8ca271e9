/// JWS signature algorithms Gatehouse can accept. `none` and `HS*` are deliberately absent:
/// they cannot be configured, so they can never be accepted.
public enum JWSAlgorithm: String, Sendable, Hashable, CaseIterable {
    case RS256, RS384, RS512
    case PS256, PS384, PS512
    case ES256, ES384
    case EdDSA

    public static let defaults: [JWSAlgorithm] = [.RS256, .ES256]
}

/// One rule on a claim (tenants/README.md `claims:`); all of an IdP's rules must hold.
public struct ClaimRule: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// The claim equals this value (numbers compare by value).
        case equals(JSONValue)
        /// The claim is an array holding this string, or a space-separated string holding it as a word.
        case contains(String)
        /// As `contains`, for at least one of these strings.
        case containsAny([String])
    }

    public var claim: ClaimPath
    public var kind: Kind

    public init(claim: ClaimPath, kind: Kind) {
        self.claim = claim
        self.kind = kind
    }
}

/// Where an IdP was declared: tenant files are read-only to tenant admins.
public enum IdentityProviderSource: String, Sendable, Hashable {
    case file
    case admin
}

/// A trusted identity provider of one tenant, validated.
public struct IdentityProvider: Sendable, Hashable {
    /// Unique within its tenant: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`.
    public var name: String
    /// Compared with the token's `iss` exactly (no normalisation).
    public var issuer: String
    public var discoveryURL: String?
    /// When set, used instead of the discovery document's `jwks_uri`.
    public var jwksURI: String?
    public var allowedClients: [String]
    public var allowedAudiences: [String]
    public var requiredScopes: [String]
    public var tokenUse: String?
    public var algorithms: [JWSAlgorithm]
    public var claims: [ClaimRule]
    public var source: IdentityProviderSource

    public init(
        name: String, issuer: String, discoveryURL: String? = nil, jwksURI: String? = nil,
        allowedClients: [String] = [], allowedAudiences: [String] = [], requiredScopes: [String] = [],
        tokenUse: String? = nil, algorithms: [JWSAlgorithm] = JWSAlgorithm.defaults, claims: [ClaimRule] = [],
        source: IdentityProviderSource = .file
    ) {
        self.name = name
        self.issuer = issuer
        self.discoveryURL = discoveryURL
        self.jwksURI = jwksURI
        self.allowedClients = allowedClients
        self.allowedAudiences = allowedAudiences
        self.requiredScopes = requiredScopes
        self.tokenUse = tokenUse
        self.algorithms = algorithms
        self.claims = claims
        self.source = source
    }

    public static func isValidName(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        for (i, b) in bytes.enumerated() {
            let alnum = (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
            if i == 0 { if !alnum { return false } } else if !(alnum || b == 0x2E || b == 0x5F || b == 0x2D) { return false }
        }
        return true
    }
}
