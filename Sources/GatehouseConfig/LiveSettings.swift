import GatehouseCore

/// Which settings of `gatehouse.yaml` can change while Gatehouse runs (docs/configuration.md
/// "Reloading"): a reload applies those, and for every other one that changed keeps the running
/// value and says a restart is needed.
public enum LiveSettings {
    public struct Change: Sendable, Equatable {
        /// The running settings with the file's live values.
        public var settings: GatehouseSettings
        /// The live settings whose value changed (their YAML names).
        public var applied: [String]
        /// Settings that changed in the file but hold until a restart.
        public var needsRestart: [String]
    }

    public static func merge(running: GatehouseSettings, file: GatehouseSettings) -> Change {
        var next = running
        var applied: [String] = []
        var restart: [String] = []
        func live<T: Equatable>(_ name: String, _ path: WritableKeyPath<GatehouseSettings, T>) {
            guard running[keyPath: path] != file[keyPath: path] else { return }
            next[keyPath: path] = file[keyPath: path]
            applied.append(name)
        }
        func fixed<T: Equatable>(_ name: String, _ path: KeyPath<GatehouseSettings, T>) {
            if running[keyPath: path] != file[keyPath: path] { restart.append(name) }
        }
        live("limits.max_request_body_bytes", \.limits.maxRequestBodyBytes)
        live("limits.max_header_bytes", \.limits.maxHeaderBytes)
        live("limits.upstream_connect_timeout_seconds", \.limits.upstreamConnectTimeoutSeconds)
        live("limits.upstream_idle_timeout_seconds", \.limits.upstreamIdleTimeoutSeconds)
        live("limits.shutdown_grace_seconds", \.limits.shutdownGraceSeconds)
        live("identity.clock_skew_seconds", \.identity.clockSkewSeconds)
        live("identity.jwks_cache_seconds", \.identity.jwksCacheSeconds)
        live("identity.jwks_min_refresh_seconds", \.identity.jwksMinRefreshSeconds)
        live("identity.jwks_max_stale_seconds", \.identity.jwksMaxStaleSeconds)
        live("identity.max_token_bytes", \.identity.maxTokenBytes)
        live("assertion.enabled", \.assertion.enabled)
        live("assertion.ttl_seconds", \.assertion.ttlSeconds)
        live("public_scheme", \.publicScheme)
        live("log_level", \.logLevel)
        live("tracing", \.tracing)
        fixed("listen", \.listen)
        fixed("admin.listen", \.adminListen)
        fixed("admin.operator_token_file", \.operatorTokenFile)
        fixed("tenants_dir", \.tenantsDir)
        fixed("store", \.store)
        fixed("identity.token_cache_entries", \.identity.tokenCacheEntries)
        fixed("identity.insecure_idp_hosts", \.identity.insecureIdPHosts)
        // Tenant files were checked against these: changing them could make a loaded file wrong.
        fixed("propagation.protected_prefixes", \.protectedPrefixes)
        fixed("assertion.header", \.assertion.header)
        fixed("assertion.issuer", \.assertion.issuer)
        fixed("assertion.key_dir", \.assertion.keyDir)
        fixed("sealing_key_file", \.sealingKeyFile)
        fixed("tls", \.tls)
        return Change(settings: next, applied: applied, needsRestart: restart)
    }
}
