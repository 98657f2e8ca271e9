import GatehouseCore
import Logging

/// What the proxy calls to turn a bearer token into a `Principal` (docs/request-path.md "Token validation").
///
/// A caller on an event loop tries `authenticateNow` first (the shared cache, then a verification
/// with cached keys, both synchronous) and `authenticate` only when it returns nil.
/// `authenticate` never throws: every failure is an `AuthError` the proxy maps to HTTP in one
/// place. Auth-failure metrics are the proxy's, which knows the tenant label to use.
public final class Authenticator: Sendable {
    /// Live (`update(settings:)`), shared with the verifier.
    private var settings: IdentitySettings { verifier.settings }
    private let cache: VerifiedTokenCache
    private let clock: WallClock
    private let logger: Logger
    private let verifier: TokenVerifier

    public init(
        settings: IdentitySettings, keySets: KeySetCache, cache: VerifiedTokenCache, clock: @escaping WallClock,
        metrics: GatehouseMetrics?, logger: Logger
    ) {
        self.cache = cache
        self.clock = clock
        self.logger = logger
        self.verifier = TokenVerifier(settings: settings, keySets: keySets, clock: clock)
    }

    /// New identity settings (a reload of `gatehouse.yaml`): token size and clock skew apply
    /// from the next verification on.
    public func update(settings: IdentitySettings) { verifier.liveSettings.set(settings) }

    /// A cached, still-valid verification of this token for this tenant (nil: tenant chosen by
    /// issuer), or nil.
    public func cachedPrincipal(token: String, tenant: TenantID?, snapshot: ConfigSnapshot) -> Principal? {
        guard cache.isEnabled, token.utf8.count <= settings.maxTokenBytes else { return nil }
        return cache.lookup(token: token, tenant: tenant, snapshot: snapshot, now: clock(), skew: Double(settings.clockSkewSeconds))
    }

    /// Full verification.
    ///
    /// With a tenant: that tenant's IdPs whose issuer equals the token's `iss` are tried in order;
    /// the first that accepts wins (several IdPs may share an issuer with different audiences).
    /// Without: every tenant with an IdP for that issuer is tried; exactly one tenant must accept.
    /// Two accepting is `ambiguous_tenant`: the request is refused, never guessed. When no
    /// candidate accepts, the error reported is the one that got furthest (see `AuthReason.stage`).
    public func authenticate(token: String, tenant: TenantID?, snapshot: ConfigSnapshot) async -> Result<Principal, AuthError> {
        var tally: Tally
        switch prepare(token: token, tenant: tenant, snapshot: snapshot) {
        case .failure(let error): return refused(error, tenant: tenant)
        case .success(let prepared): tally = prepared
        }
        for candidate in tally.candidates where tally.wants(candidate) {
            do {
                tally.accept(try await verifier.verify(tally.jws, tenant: candidate.tenant, idp: candidate.idp))
            } catch {
                tally.refuse(error, tenant: candidate.tenant)
            }
        }
        return decide(tally, token: token)
    }

    /// `authenticate` without waiting, for a caller on an event loop: nil when some candidate
    /// IdP's keys are not cached (or lack the token's `kid`), and the caller must take the
    /// asynchronous path. Otherwise the same verdict, with the same cache insert.
    /// A still-valid cached verification is returned first; the token's digest is computed once
    /// for that lookup and the insert after a verification.
    public func authenticateNow(token: String, tenant: TenantID?, snapshot: ConfigSnapshot) -> Result<Principal, AuthError>? {
        var key: VerifiedTokenCache.Key?
        if cache.isEnabled, token.utf8.count <= settings.maxTokenBytes {
            let k = cache.key(token: token, tenant: tenant)
            if let principal = cache.lookup(key: k, tenant: tenant, snapshot: snapshot, now: clock(), skew: Double(settings.clockSkewSeconds)) {
                return .success(principal)
            }
            key = k
        }
        var tally: Tally
        switch prepare(token: token, tenant: tenant, snapshot: snapshot) {
        case .failure(let error): return refused(error, tenant: tenant)
        case .success(let prepared): tally = prepared
        }
        for candidate in tally.candidates where tally.wants(candidate) {
            do {
                guard let principal = try verifier.verifyNow(tally.jws, tenant: candidate.tenant, idp: candidate.idp) else { return nil }
                tally.accept(principal)
            } catch {
                tally.refuse(error, tenant: candidate.tenant)
            }
        }
        return decide(tally, token: token, key: key)
    }

    /// What the verification of one token has found so far, candidate by candidate.
    private struct Tally {
        let jws: CompactJWS
        let tenant: TenantID?
        let candidates: [IdPCandidates.Candidate]
        var best: AuthError?
        var accepted: [Principal] = []
        var decidedTenants: Set<TenantID> = []
        var undecided: [TenantID] = []

        /// Whether this candidate still matters: its tenant is undecided, and (with a tenant
        /// given) nothing has accepted yet.
        func wants(_ candidate: IdPCandidates.Candidate) -> Bool {
            !decidedTenants.contains(candidate.tenant) && (tenant == nil || accepted.isEmpty)
        }

        mutating func accept(_ principal: Principal) {
            accepted.append(principal)
            decidedTenants.insert(principal.tenant)
        }

        mutating func refuse(_ error: AuthError, tenant: TenantID) {
            if error.kind == .keysUnavailable { undecided.append(tenant) }
            if best.map({ AuthReason.stage(of: error) > AuthReason.stage(of: $0) }) ?? true { best = error }
        }
    }

    /// Parses the token and finds the IdPs that may have issued it.
    private func prepare(token: String, tenant: TenantID?, snapshot: ConfigSnapshot) -> Result<Tally, AuthError> {
        let jws: CompactJWS
        do {
            jws = try CompactJWS.parse(token, maxBytes: settings.maxTokenBytes)
        } catch {
            return .failure(error)
        }
        guard let issuer = jws.claims.string("iss") else {
            return .failure(AuthError.invalid(AuthReason.unknownIssuer, "token has no iss"))
        }
        let candidates = IdPCandidates.find(issuer: issuer, tenant: tenant, in: snapshot)
        guard !candidates.isEmpty else {
            return .failure(AuthError.invalid(AuthReason.unknownIssuer, "no IdP trusts this issuer"))
        }
        return .success(Tally(jws: jws, tenant: tenant, candidates: candidates))
    }

    private func decide(_ tally: Tally, token: String, key: VerifiedTokenCache.Key? = nil) -> Result<Principal, AuthError> {
        switch tally.accepted.count {
        case 1:
            // Choosing by issuer, a tenant whose keys could not be had might also have accepted:
            // that is not "exactly one", so do not guess.
            if tally.tenant == nil, let other = tally.undecided.first(where: { $0 != tally.accepted[0].tenant }) {
                return refused(
                    AuthError(.keysUnavailable, reason: AuthReason.keysUnavailable, detail: "cannot rule out tenant \(other) for this issuer"),
                    tenant: tally.tenant)
            }
            if let key {
                cache.insert(key: key, principal: tally.accepted[0], candidates: tally.candidates)
            } else {
                cache.insert(token: token, tenant: tally.tenant, principal: tally.accepted[0], candidates: tally.candidates)
            }
            return .success(tally.accepted[0])
        case 0:
            return refused(tally.best ?? AuthError.invalid(AuthReason.unknownIssuer, "no IdP accepted the token"), tenant: tally.tenant)
        default:
            let tenants = tally.accepted.map(\.tenant.rawValue).joined(separator: ",")
            return refused(AuthError.invalid(AuthReason.ambiguousTenant, "tenants \(tenants) all accept this token"), tenant: tally.tenant)
        }
    }

    private func refused(_ error: AuthError, tenant: TenantID?) -> Result<Principal, AuthError> {
        logger.debug(
            "token refused",
            metadata: ["tenant": "\(tenant?.rawValue ?? "-")", "reason": "\(error.reason)", "detail": "\(error.detail)"])
        return .failure(error)
    }
}
