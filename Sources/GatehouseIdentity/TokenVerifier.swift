import GatehouseCore

/// Verifies one compact JWS for one (tenant, IdP) against docs/request-path.md "Token validation".
///
/// Order matters: structure, algorithm, `crit`, issuer and times are checked before any key is
/// looked up or any signature computed, so a flood of forged tokens costs little. Nothing in the
/// token but `kid` influences which key is used; `jku`, `x5u`, `jwk` and `x5c` are never read.
public struct TokenVerifier: Sendable {
    /// Live: `identity.max_token_bytes` and `identity.clock_skew_seconds` change on reload.
    let liveSettings: LiveValue<IdentitySettings>
    var settings: IdentitySettings { liveSettings.value }
    let keySets: KeySetCache
    let clock: WallClock

    public init(settings: IdentitySettings, keySets: KeySetCache, clock: @escaping WallClock) {
        self.liveSettings = LiveValue(settings)
        self.keySets = keySets
        self.clock = clock
    }

    public func verify(_ token: String, tenant: TenantID, idp: IdentityProvider) async throws(AuthError) -> Principal {
        let jws = try CompactJWS.parse(token, maxBytes: settings.maxTokenBytes)
        return try await verify(jws, tenant: tenant, idp: idp)
    }

    /// The unverified `iss` of a token, only to find candidate IdPs; nil when unreadable.
    public static func peekIssuer(_ token: String, maxBytes: Int) -> String? {
        CompactJWS.peekIssuer(token, maxBytes: maxBytes)
    }

    func verify(_ jws: CompactJWS, tenant: TenantID, idp: IdentityProvider) async throws(AuthError) -> Principal {
        let (alg, expiresAt) = try checkBeforeKeys(jws, idp: idp)
        let keys = try await keys(for: jws, algorithm: alg, tenant: tenant, idp: idp)
        return try checkSignatureAndClaims(jws, keys: keys, algorithm: alg, expiresAt: expiresAt, tenant: tenant, idp: idp)
    }

    /// The same verification without waiting: nil when it would have to wait for this IdP's
    /// keys (none cached yet, or a `kid` the cached set lacks, which asks for a refresh). A
    /// verdict from here is the one `verify` would give.
    func verifyNow(_ jws: CompactJWS, tenant: TenantID, idp: IdentityProvider) throws(AuthError) -> Principal? {
        let (alg, expiresAt) = try checkBeforeKeys(jws, idp: idp)
        guard let keySet = keySets.cachedKeySet(tenant: tenant, idp: idp) else { return nil }
        guard let keys = try Self.keys(in: keySet, for: jws, algorithm: alg) else { return nil }
        return try checkSignatureAndClaims(jws, keys: keys, algorithm: alg, expiresAt: expiresAt, tenant: tenant, idp: idp)
    }

    /// Structure, algorithm, `crit`, issuer and times; returns the algorithm and `exp`.
    private func checkBeforeKeys(_ jws: CompactJWS, idp: IdentityProvider) throws(AuthError) -> (JWSAlgorithm, Int64) {
        guard let alg = JWSAlgorithm(rawValue: jws.algorithm), idp.algorithms.contains(alg) else {
            throw AuthError.invalid(AuthReason.algorithm, "alg \(Self.printable(jws.algorithm)) is not allowed for idp \(idp.name)")
        }
        if jws.header.contains("crit") {
            throw AuthError.invalid(AuthReason.crit, "token has a crit header")
        }
        guard jws.claims.string("iss") == idp.issuer else {
            throw AuthError.invalid(AuthReason.unknownIssuer, "iss is not the issuer of idp \(idp.name)")
        }
        return (alg, try ClaimChecks.checkTimes(jws.claims, now: clock(), skew: Double(settings.clockSkewSeconds)))
    }

    private func checkSignatureAndClaims(
        _ jws: CompactJWS, keys: [JSONWebKey], algorithm alg: JWSAlgorithm, expiresAt: Int64, tenant: TenantID, idp: IdentityProvider
    ) throws(AuthError) -> Principal {
        guard keys.contains(where: { $0.verify(signature: jws.signature, signingInput: jws.signingInput, algorithm: alg) }) else {
            throw AuthError.invalid(AuthReason.badSignature, "signature does not verify with idp \(idp.name)'s key")
        }
        let identity = try ClaimChecks.checkAfterSignature(jws.claims, idp: idp)
        return Principal(
            tenant: tenant, idp: idp.name, issuer: idp.issuer, subject: identity.subject, clientID: identity.clientID,
            scopes: identity.scopes, claims: jws.claims, expiresAt: expiresAt)
    }

    /// The key(s) named by `kid` in this IdP's own set; an unknown `kid` asks the cache for its
    /// rate-limited refresh once.
    private func keys(for jws: CompactJWS, algorithm: JWSAlgorithm, tenant: TenantID, idp: IdentityProvider) async throws(AuthError) -> [JSONWebKey] {
        if let keys = try Self.keys(in: try await keySets.keySet(tenant: tenant, idp: idp), for: jws, algorithm: algorithm) {
            return keys
        }
        let refreshed = try await keySets.refreshForUnknownKID(tenant: tenant, idp: idp)
        if let keys = try Self.keys(in: refreshed, for: jws, algorithm: algorithm) { return keys }
        throw AuthError.invalid(AuthReason.unknownKID, jws.kid == nil ? "token has no kid and no key fits" : "kid not in key set")
    }

    /// The key(s) for this token in `keySet`; nil when the set holds none for its `kid` (a
    /// refresh may help).
    private static func keys(in keySet: KeySet, for jws: CompactJWS, algorithm: JWSAlgorithm) throws(AuthError) -> [JSONWebKey]? {
        switch keySet.select(kid: jws.kid, algorithm: algorithm) {
        case .keys(let keys):
            return keys
        case .unusable(let reason):
            throw AuthError.invalid(reason, "kid names a key that cannot verify \(algorithm.rawValue)")
        case .ambiguous(let count):
            throw AuthError.invalid(AuthReason.unknownKID, "token has no kid and \(count) keys fit \(algorithm.rawValue)")
        case .unknownKID:
            return nil
        }
    }

    /// A header value for a log line: short and without control characters.
    static func printable(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in s.unicodeScalars where scalar.value >= 0x20 && scalar.value < 0x7F {
            out.append(scalar)
            if out.count == 32 { break }
        }
        return String(out)
    }
}
