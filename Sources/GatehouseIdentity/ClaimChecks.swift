import GatehouseCore

/// The claim rules of docs/request-path.md "Order of checks", as pure functions of the payload, the IdP and `now`.
enum ClaimChecks {
    /// `exp` (required), `nbf` and `iat` (optional), each a JSON number, with `skew` seconds of
    /// tolerance either way. Returns `exp` as whole seconds.
    static func checkTimes(_ claims: ScannedObject, now: Double, skew: Double) throws(AuthError) -> Int64 {
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
    private static func time(_ claims: ScannedObject, _ name: String) throws(AuthError) -> Double? {
        guard claims.contains(name) else { return nil }
        guard let seconds = claims.number(name), seconds.isFinite, abs(seconds) < 1e15 else {
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
    static func checkAfterSignature(_ claims: ScannedObject, idp: IdentityProvider) throws(AuthError) -> Identity {
        guard let subject = claims.string("sub"), !subject.isEmpty else {
            throw AuthError.invalid(AuthReason.claims, "sub missing or empty")
        }
        if !idp.allowedAudiences.isEmpty {
            let audiences = strings(claims, "aud")
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
        if let tokenUse = idp.tokenUse, claims.string("token_use") != tokenUse {
            throw AuthError.invalid(AuthReason.tokenUse, "token_use is not \(tokenUse)")
        }
        for rule in idp.claims where !holds(rule, in: claims) {
            throw AuthError.invalid(AuthReason.claims, "claim rule on \(rule.claim) does not hold")
        }
        let scopes = self.scopes(claims)
        if !idp.requiredScopes.allSatisfy(scopes.contains) {
            throw AuthError(.insufficientScope(required: idp.requiredScopes), reason: AuthReason.scope, detail: "a required scope is missing")
        }
        return Identity(subject: subject, clientID: clientID, scopes: scopes)
    }

    /// `client_id`, else `azp` when there is no `client_id` at all.
    static func clientID(_ claims: ScannedObject) -> String? {
        if claims.contains("client_id") { return claims.string("client_id") }
        return claims.string("azp")
    }

    /// A claim that is a string or an array of strings (other items ignored), as a list.
    static func strings(_ claims: ScannedObject, _ name: String) -> [String] {
        switch claims.kind(of: name) {
        case .string: return claims.string(name).map { [$0] } ?? []
        case .array: return claims[name]?.arrayValue?.compactMap(\.stringValue) ?? []
        default: return []
        }
    }

    /// Scopes from `scope` (space-separated) and `scp` (space-separated string or array of strings).
    static func scopes(_ claims: ScannedObject) -> [String] {
        var out: [String] = []
        func add(_ s: Substring) {
            let scope = String(s)
            if !out.contains(scope) { out.append(scope) }
        }
        if let scope = claims.string("scope") {
            scope.split(separator: " ").forEach(add)
        }
        switch claims.kind(of: "scp") {
        case .string: claims.string("scp")?.split(separator: " ").forEach(add)
        case .array: strings(claims, "scp").forEach { add(Substring($0)) }
        default: break
        }
        return out
    }

    static func holds(_ rule: ClaimRule, in claims: ScannedObject) -> Bool { rule.holds(in: claims) }
}
