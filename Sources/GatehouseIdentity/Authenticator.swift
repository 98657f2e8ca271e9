import GatehouseCore
import Logging

/// What the proxy calls to turn a bearer token into a `Principal` (DESIGN 3 step 4 and 4).
///
/// The caller tries `cachedPrincipal` first (synchronous, cheap) and `authenticate` on a miss.
/// `authenticate` never throws: every failure is an `AuthError` the proxy maps to HTTP in one
/// place. Auth-failure metrics are the proxy's, which knows the tenant label to use.
public final class Authenticator: Sendable {
    private let settings: IdentitySettings
    private let cache: VerifiedTokenCache
    private let clock: WallClock
    private let logger: Logger
    private let verifier: TokenVerifier

    public init(
        settings: IdentitySettings, keySets: KeySetCache, cache: VerifiedTokenCache, clock: @escaping WallClock,
        metrics: GatehouseMetrics?, logger: Logger
    ) {
        self.settings = settings
        self.cache = cache
        self.clock = clock
        self.logger = logger
        self.verifier = TokenVerifier(settings: settings, keySets: keySets, clock: clock)
    }

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
        let result = await verify(token: token, tenant: tenant, snapshot: snapshot)
        if case .failure(let error) = result {
            logger.debug(
                "token refused",
                metadata: ["tenant": "\(tenant?.rawValue ?? "-")", "reason": "\(error.reason)", "detail": "\(error.detail)"])
        }
        return result
    }

    private func verify(token: String, tenant: TenantID?, snapshot: ConfigSnapshot) async -> Result<Principal, AuthError> {
        let jws: CompactJWS
        do {
            jws = try CompactJWS.parse(token, maxBytes: settings.maxTokenBytes)
        } catch {
            return .failure(error)
        }
        guard let issuer = jws.claims["iss"]?.stringValue else {
            return .failure(AuthError.invalid(AuthReason.unknownIssuer, "token has no iss"))
        }
        let candidates = IdPCandidates.find(issuer: issuer, tenant: tenant, in: snapshot)
        guard !candidates.isEmpty else {
            return .failure(AuthError.invalid(AuthReason.unknownIssuer, "no IdP trusts this issuer"))
        }

        var best: AuthError?
        var accepted: [Principal] = []
        var decidedTenants: Set<TenantID> = []
        var undecided: [TenantID] = []
        for candidate in candidates where !decidedTenants.contains(candidate.tenant) {
            do {
                let principal = try await verifier.verify(jws, tenant: candidate.tenant, idp: candidate.idp)
                accepted.append(principal)
                decidedTenants.insert(candidate.tenant)
                if tenant != nil { break }
            } catch {
                if error.kind == .keysUnavailable { undecided.append(candidate.tenant) }
                if best.map({ AuthReason.stage(of: error) > AuthReason.stage(of: $0) }) ?? true { best = error }
            }
        }
        switch accepted.count {
        case 1:
            // Choosing by issuer, a tenant whose keys could not be had might also have accepted:
            // that is not "exactly one", so do not guess.
            if tenant == nil, let other = undecided.first(where: { $0 != accepted[0].tenant }) {
                return .failure(
                    AuthError(.keysUnavailable, reason: AuthReason.keysUnavailable, detail: "cannot rule out tenant \(other) for this issuer"))
            }
            cache.insert(token: token, tenant: tenant, principal: accepted[0], candidates: candidates)
            return .success(accepted[0])
        case 0:
            return .failure(best ?? AuthError.invalid(AuthReason.unknownIssuer, "no IdP accepted the token"))
        default:
            let tenants = accepted.map(\.tenant.rawValue).joined(separator: ",")
            return .failure(AuthError.invalid(AuthReason.ambiguousTenant, "tenants \(tenants) all accept this token"))
        }
    }
}
