import GatehouseCore

/// The claim rules of README "Token validation", as pure functions of the payload, the IdP and `now`.
enum ClaimChecks {
    /// `exp` (required), `nbf` and `iat` (optional), each a JSON number, with `skew` seconds of
    /// tolerance either way. Returns `exp` as whole seconds.
    static func checkTimes(_ claims: [String: JSONValue], now: Double, skew: Double) throws(AuthError) -> Int64 {
        guard let exp = try time(claims, "exp") else { throw AuthError.invalid(AuthReason.malformed, "exp missing") }
        guard now < exp + skew else { throw AuthError.invalid(AuthReason.expired, "exp \(Int64(exp)) is past") }
        if let nbf = try time(claims, "nbf"), nbf > now + skew {
            throw AuthError.invalid(AuthReason.notYetValid, "nbf \(Int64(nbf)) is in the future")
        }
        if let iat = try time(claims, "iat"), iat > now + skew {
            throw AuthError.invalid(AuthReason.issuedInFuture, "iat \(Int64(iat)) is in the future")
        }
        return Int64(exp.rounded(.down))
    }

    /// A NumericDate claim: nil when absent; refused when present but not a number in a sane range.
    private static func time(_ claims: [String: JSONValue], _ name: String) throws(AuthError) -> Double? {
        guard let value = claims[name] else { return nil }
        guard let seconds = value.doubleValue, seconds.isFinite, abs(seconds) < 1e15 else {
            throw AuthError.invalid(AuthReason.malformed, "\(name) is not a number of seconds")
        }
        return seconds
    }

    /// What a verified token says about its caller.
    struct Identity {
        var subject: String
        var clientID: String?
        var scopes: [String]
    }

    /// Everything after the signature: subject, audience, client, `token_use`, `claims` rules, and
    /// last the scopes (the only 403).
    static func checkAfterSignature(_ claims: [String: JSONValue], payload: JSONValue, idp: IdentityProvider) throws(AuthError) -> Identity {
        guard let subject = claims["sub"]?.stringValue, !subject.isEmpty else {
            throw AuthError.invalid(AuthReason.claims, "sub missing or empty")
        }
        if !idp.allowedAudiences.isEmpty {
            let audiences: [String]
            switch claims["aud"] {
            case .string(let s): audiences = [s]
            case .array(let items): audiences = items.compactMap(\.stringValue)
            default: audiences = []
            }
            guard audiences.contains(where: idp.allowedAudiences.contains) else {
                throw AuthError.invalid(AuthReason.audience, "aud is not an allowed audience")
            }
        }
        let clientID = self.clientID(claims)
        if !idp.allowedClients.isEmpty {
            guard let clientID, idp.allowedClients.contains(clientID) else {
                throw AuthError.invalid(AuthReason.client, "client_id/azp is not an allowed client")
            }
        }
        if let tokenUse = idp.tokenUse, claims["token_use"]?.stringValue != tokenUse {
            throw AuthError.invalid(AuthReason.tokenUse, "token_use is not \(tokenUse)")
        }
        for rule in idp.claims where !holds(rule, in: payload) {
            throw AuthError.invalid(AuthReason.claims, "claim rule on \(rule.claim) does not hold")
        }
        let scopes = self.scopes(claims)
        if !idp.requiredScopes.allSatisfy(scopes.contains) {
            throw AuthError(.insufficientScope(required: idp.requiredScopes), reason: AuthReason.scope, detail: "a required scope is missing")
        }
        return Identity(subject: subject, clientID: clientID, scopes: scopes)
    }

    /// `client_id`, else `azp` when there is no `client_id` at all.
    static func clientID(_ claims: [String: JSONValue]) -> String? {
        if let clientID = claims["client_id"] { return clientID.stringValue }
        return claims["azp"]?.stringValue
    }

    /// Scopes from `scope` (space-separated) and `scp` (space-separated string or array of strings).
    static func scopes(_ claims: [String: JSONValue]) -> [String] {
        var out: [String] = []
        func add(_ s: Substring) {
            let scope = String(s)
            if !out.contains(scope) { out.append(scope) }
        }
        if let scope = claims["scope"]?.stringValue {
            scope.split(separator: " ").forEach(add)
        }
        switch claims["scp"] {
        case .string(let s): s.split(separator: " ").forEach(add)
        case .array(let items): items.compactMap(\.stringValue).forEach { add(Substring($0)) }
        default: break
        }
        return out
    }

    static func holds(_ rule: ClaimRule, in payload: JSONValue) -> Bool {
        guard let value = rule.claim.resolve(in: payload) else { return false }
        switch rule.kind {
        case .equals(let expected): return value.semanticallyEquals(expected)
        case .contains(let s): return contains(value, s)
        case .containsAny(let list): return list.contains { contains(value, $0) }
        }
    }

    /// An array holding the string, or a string equal to it or holding it as a space-separated word.
    /// Numbers are not strings: `contains: "5"` does not match `[5]`.
    private static func contains(_ value: JSONValue, _ s: String) -> Bool {
        switch value {
        case .array(let items): return items.contains(.string(s))
        case .string(let text): return text == s || text.split(separator: " ").contains { $0 == s }
        default: return false
        }
    }
}
