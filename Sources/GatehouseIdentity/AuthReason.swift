import GatehouseCore

/// The `AuthError.reason` codes this module produces (metric labels: keep them few and stable).
enum AuthReason {
    static let tooLarge = "too_large"
    static let malformed = "malformed"
    static let algorithm = "algorithm"
    static let crit = "crit"
    static let unknownIssuer = "unknown_issuer"
    static let expired = "expired"
    static let notYetValid = "not_yet_valid"
    static let issuedInFuture = "issued_in_future"
    static let unknownKID = "unknown_kid"
    static let keyType = "key_type"
    static let weakKey = "weak_key"
    static let keysUnavailable = "keys_unavailable"
    static let badSignature = "bad_signature"
    static let claims = "claims"
    static let audience = "audience"
    static let client = "client"
    static let tokenUse = "token_use"
    static let scope = "scope"
    static let ambiguousTenant = "ambiguous_tenant"

    /// How far verification got before this failure. When several candidate IdPs refuse a token,
    /// the error reported is the one from the furthest stage: "right key, wrong audience" says
    /// more than "another tenant's IdP did not know the kid".
    static func stage(of error: AuthError) -> Int {
        switch error.kind {
        case .insufficientScope: return 6
        case .keysUnavailable: return 3
        case .missingToken: return 0
        case .invalidToken: break
        }
        switch error.reason {
        case claims, audience, client, tokenUse: return 5
        case badSignature: return 4
        case unknownKID, keyType, weakKey: return 3
        case expired, notYetValid, issuedInFuture: return 2
        default: return 1
        }
    }
}
