import GatehouseCore

extension DevIdentityProvider {
    /// The claims the token endpoint puts in a token: `iss`, `sub`, `client_id`, `aud` (when
    /// given), `scope` (when given), `iat`, `exp`, `jti`, `token_use`, `custom:tenant_id`, `email`
    /// and `roles` (when given).
    public func standardClaims(
        subject: String = "alice", tenant: String = "acme", clientID: String = "gatehouse-demo", scope: String? = nil,
        audience: String? = nil, roles: [String] = [], ttl: Int? = nil
    ) -> [String: JSONValue] {
        Self.standardClaims(
            issuer: issuer, now: state.clock(), subject: subject, tenant: tenant, clientID: clientID, scope: scope,
            audience: audience, roles: roles, ttl: ttl ?? state.defaultTTL)
    }

    static func standardClaims(
        issuer: String, now: Double, subject: String, tenant: String, clientID: String, scope: String?,
        audience: String?, roles: [String], ttl: Int
    ) -> [String: JSONValue] {
        let iat = Int(now)
        var claims: [String: JSONValue] = [
            "iss": .string(issuer), "sub": .string(subject), "client_id": .string(clientID),
            "iat": .number(String(iat)), "exp": .number(String(iat + ttl)), "jti": .string(DevSigningKey.randomID(bytes: 16)),
            "token_use": .string("access"), "custom:tenant_id": .string(tenant),
            "email": .string("\(subject)@\(tenant).example"),
        ]
        if let scope { claims["scope"] = .string(scope) }
        if let audience { claims["aud"] = .string(audience) }
        if !roles.isEmpty { claims["roles"] = .array(roles.map(JSONValue.string)) }
        return claims
    }

    /// Signs `claims` as they are: nothing is added, so tests can mint expired tokens, foreign
    /// issuers or missing claims. The header gets `alg` (from the key), `typ` and `kid`; entries
    /// in `header` override those, and a `.null` entry removes one (a token without `kid`, or one
    /// whose `alg` lies about the key). `keyID` picks the signing key (default: `defaultKeyID`).
    public func mintToken(claims: [String: JSONValue], header: [String: JSONValue] = [:], keyID: String? = nil) -> String {
        let key = state.values.withLock { values in
            keyID.map { kid in values.keys.first { $0.kid == kid } } ?? values.keys.first { $0.algorithm == "RS256" }
        }
        guard let key else { preconditionFailure("DevIdentityProvider has no key \(keyID ?? "RS256")") }
        return Self.sign(claims: claims, header: header, key: key)
    }

    /// A token with `standardClaims`, as the token endpoint would issue it.
    public func mintToken(
        subject: String = "alice", tenant: String = "acme", clientID: String = "gatehouse-demo", scope: String? = nil,
        audience: String? = nil, roles: [String] = [], ttl: Int? = nil
    ) -> String {
        mintToken(claims: standardClaims(
            subject: subject, tenant: tenant, clientID: clientID, scope: scope, audience: audience, roles: roles, ttl: ttl))
    }

    static func sign(claims: [String: JSONValue], header extra: [String: JSONValue], key: DevSigningKey) -> String {
        var header: [String: JSONValue] = ["alg": .string(key.algorithm), "typ": .string("JWT"), "kid": .string(key.kid)]
        for (name, value) in extra {
            if value == .null { header[name] = nil } else { header[name] = value }
        }
        let signingInput = Base64URL.encode(JSONValue.object(header).compactText) + "." + Base64URL.encode(JSONValue.object(claims).compactText)
        do {
            return signingInput + "." + Base64URL.encode(try key.sign(Array(signingInput.utf8)))
        } catch {
            // Signing with a key we generated ourselves fails only when BoringSSL cannot allocate.
            preconditionFailure("signing failed: \(error)")
        }
    }
}
