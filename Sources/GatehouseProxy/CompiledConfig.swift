import GatehouseCore

/// Everything the data plane needs per tenant, computed once per configuration snapshot so
/// that the hot path does no string folding, parsing or allocation it could have done earlier.
public final class CompiledTenant: Sendable {
    public let tenant: Tenant
    /// Canonical names (see `HeaderName.canonical`) of inbound headers always removed for this
    /// tenant: every propagated header and the assertion header.
    let strippedHeaders: Set<String>
    /// `HTTPBytes.foldedHash` of each of `strippedHeaders` (a hit is confirmed by name).
    let strippedHashes: Set<UInt64>
    /// The session rules by folded-name hash.
    let sessionHashes: [UInt64]
    let upstreams: UpstreamGroup
    let limiter: TenantLimiter
    /// The tenant's session rules with their canonical header names (docs/sessions-and-oauth.md "Matching").
    let sessionRules: [(canonical: String, rule: SessionRule)]
    /// Issuers for Protected Resource Metadata.
    let authorizationServers: [String]
    let scopesSupported: [String]

    init(tenant: Tenant, settings: GatehouseSettings, previous: CompiledTenant?, now: Double, share: ReplicaShare) {
        self.tenant = tenant
        var stripped = Set(tenant.propagate.map { HeaderName.canonical($0.header) })
        stripped.insert(HeaderName.canonical(settings.assertion.header))
        self.strippedHeaders = stripped
        self.strippedHashes = Set(stripped.map { HTTPBytes.foldedHash($0.utf8) })
        self.sessionRules = tenant.sessions.map { (HeaderName.canonical($0.header), $0) }
        self.sessionHashes = sessionRules.map { HTTPBytes.foldedHash($0.canonical.utf8) }
        // Keep health state and limiter buckets across reloads when nothing relevant changed.
        let instances = tenant.upstreams.map { upstream in
            previous?.upstreams.instance(for: upstream) ?? UpstreamInstance(upstream: upstream)
        }
        self.upstreams = UpstreamGroup(instances: instances)
        if let previous, previous.tenant.limits == tenant.limits {
            self.limiter = previous.limiter
        } else {
            self.limiter = TenantLimiter(limits: tenant.limits, now: now, share: share)
        }
        var issuers: [String] = []
        var scopes: [String] = []
        for idp in tenant.idps {
            if !issuers.contains(idp.issuer) { issuers.append(idp.issuer) }
            for s in idp.requiredScopes where !scopes.contains(s) { scopes.append(s) }
        }
        self.authorizationServers = issuers
        self.scopesSupported = scopes
    }
}

/// The settings every request reads, copied out of the snapshot once (reading them through
/// `snapshot.settings` would copy the whole settings value, strings and arrays included).
struct HotSettings: Sendable {
    let maxRequestBodyBytes: Int
    let maxTokenBytes: Int
    let cacheTokens: Bool
    let clockSkewSeconds: Double
    let assertionEnabled: Bool
    let assertionHeader: String
}

/// One immutable, compiled configuration: the snapshot plus per-tenant compiled state.
public final class CompiledConfig: Sendable {
    public let snapshot: ConfigSnapshot
    let hot: HotSettings
    let tenants: [TenantID: CompiledTenant]
    /// Canonical protected prefixes (always stripped).
    let protectedPrefixes: [String]
    let assertionHeaderCanonical: String
    /// Union of every tenant's stripped headers, for requests whose tenant is not known yet.
    let allStrippedHeaders: Set<String>
    let allStrippedHashes: Set<UInt64>
    private let protectedPrefixBytes: [[UInt8]]
    private let assertionHash: UInt64

    public init(snapshot: ConfigSnapshot, previous: CompiledConfig? = nil, now: Double = monotonicSeconds(), share: ReplicaShare = .whole) {
        self.snapshot = snapshot
        let s = snapshot.settings
        self.hot = HotSettings(
            maxRequestBodyBytes: s.limits.maxRequestBodyBytes, maxTokenBytes: s.identity.maxTokenBytes,
            cacheTokens: s.identity.tokenCacheEntries > 0, clockSkewSeconds: Double(s.identity.clockSkewSeconds),
            assertionEnabled: s.assertion.enabled, assertionHeader: s.assertion.header)
        var compiled: [TenantID: CompiledTenant] = [:]
        for (id, tenant) in snapshot.tenants {
            compiled[id] = CompiledTenant(tenant: tenant, settings: snapshot.settings, previous: previous?.tenants[id], now: now, share: share)
        }
        self.tenants = compiled
        self.allStrippedHeaders = compiled.values.reduce(into: Set<String>()) { $0.formUnion($1.strippedHeaders) }
        self.protectedPrefixes = snapshot.settings.protectedPrefixes.map(HeaderName.canonical)
        self.assertionHeaderCanonical = HeaderName.canonical(snapshot.settings.assertion.header)
        self.allStrippedHashes = compiled.values.reduce(into: Set<UInt64>()) { $0.formUnion($1.strippedHashes) }
        self.protectedPrefixBytes = protectedPrefixes.map { Array($0.utf8) }
        self.assertionHash = HTTPBytes.foldedHash(assertionHeaderCanonical.utf8)
    }

    /// `mustStrip(canonicalName:tenant:)` for a name read in place (`hash`: its folded hash).
    func mustStrip(name: UnsafeRawBufferPointer, hash: UInt64, tenant: CompiledTenant?) -> Bool {
        for prefix in protectedPrefixBytes where name.count >= prefix.count {
            var same = true
            for i in 0..<prefix.count where HTTPBytes.fold(name[i]) != prefix[i] {
                same = false
                break
            }
            if same { return true }
        }
        let candidate = hash == assertionHash || (tenant.map { $0.strippedHashes.contains(hash) } ?? allStrippedHashes.contains(hash))
        guard candidate else { return false }
        // Confirm by name (a hash is not a name).
        let folded = String(decoding: name.map(HTTPBytes.fold), as: UTF8.self)
        return mustStrip(canonicalName: folded, tenant: tenant)
    }

    /// True when an inbound header must be removed before anything else looks at the request.
    /// `tenant` is nil while the tenant is not yet known: then every tenant's propagated header
    /// names are removed too (the request may still be routed by its token's issuer).
    func mustStrip(canonicalName name: String, tenant: CompiledTenant?) -> Bool {
        for prefix in protectedPrefixes where name.hasPrefix(prefix) { return true }
        if name == assertionHeaderCanonical { return true }
        if let tenant { return tenant.strippedHeaders.contains(name) }
        return allStrippedHeaders.contains(name)
    }
}
