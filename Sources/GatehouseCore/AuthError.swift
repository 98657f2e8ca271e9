/// Why a request could not be authenticated. The proxy maps it to HTTP in one place
/// (401 / 403 / 503, docs/status-codes.md "What Gatehouse answers itself"); `reason` labels metrics; `detail` goes to the log only and
/// never contains a token.
public struct AuthError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// No bearer token: 401 without `error=`.
        case missingToken
        /// Any token problem: 401 `invalid_token`.
        case invalidToken
        /// A required scope is missing: 403 `insufficient_scope`.
        case insufficientScope(required: [String])
        /// The IdP's keys could not be had (unreachable, nothing cached): 503.
        case keysUnavailable
    }

    public var kind: Kind
    /// Short, stable, low-cardinality: `expired`, `bad_signature`, `unknown_issuer`, `unknown_kid`,
    /// `malformed`, `too_large`, `algorithm`, `audience`, `client`, `claims`, `token_use`,
    /// `not_yet_valid`, `issued_in_future`, `crit`, `ambiguous_tenant`, `missing_token`, `scope`,
    /// `keys_unavailable`, `key_type`, `weak_key`…
    public var reason: String
    /// For the log: what exactly failed. Never holds the token.
    public var detail: String

    public init(_ kind: Kind, reason: String, detail: String = "") {
        self.kind = kind
        self.reason = reason
        self.detail = detail
    }

    public static func invalid(_ reason: String, _ detail: String = "") -> AuthError {
        AuthError(.invalidToken, reason: reason, detail: detail)
    }

    public var description: String { detail.isEmpty ? reason : "\(reason): \(detail)" }
}
