import GatehouseCore

/// `gatehouse.yaml` (docs/configuration.md). Paths are kept as written here and made absolute afterwards,
/// once environment overrides have been applied.
extension ConfigReader {
    static let settingsKeys: Set<String> = [
        "listen", "admin", "tenants_dir", "store", "identity", "propagation", "assertion", "limits", "log_level", "tls",
        "public_scheme", "sealing_key_file", "tracing",
    ]

    /// Settings read from `root`, starting from the defaults. Keys with problems keep their default;
    /// the caller refuses the whole result when any problem was recorded.
    mutating func settings(_ root: JSONValue) -> GatehouseSettings {
        var settings = GatehouseSettings()
        guard let top = object(root, at: .root, allowed: ConfigReader.settingsKeys) else { return settings }

        if let v = top["listen"], let address = socketAddress(v, at: top.path("listen")) { settings.listen = address }
        if let v = top["admin"], let admin = object(v, at: top.path("admin"), allowed: ["listen", "operator_token_file"]) {
            if let v = admin["listen"], let address = socketAddress(v, at: admin.path("listen")) { settings.adminListen = address }
            if let v = admin["operator_token_file"], let path = string(v, at: admin.path("operator_token_file")) {
                settings.operatorTokenFile = path
            }
        }
        if let v = top["tenants_dir"], let path = string(v, at: top.path("tenants_dir")) { settings.tenantsDir = path }
        if let v = top["store"], let store = storeLocation(v, at: top.path("store")) { settings.store = store }
        if let v = top["identity"] { identitySettings(v, at: top.path("identity"), into: &settings.identity) }
        if let v = top["propagation"], let propagation = object(v, at: top.path("propagation"), allowed: ["protected_prefixes"]),
            let v = propagation["protected_prefixes"], let prefixes = protectedPrefixes(v, at: propagation.path("protected_prefixes"))
        {
            settings.protectedPrefixes = prefixes
        }
        if let v = top["assertion"] { assertionSettings(v, at: top.path("assertion"), into: &settings.assertion) }
        if let v = top["sealing_key_file"], let path = string(v, at: top.path("sealing_key_file")) { settings.sealingKeyFile = path }
        if let v = top["limits"] { globalLimits(v, at: top.path("limits"), into: &settings.limits) }
        if let v = top["log_level"], let level = logLevel(v, at: top.path("log_level")) { settings.logLevel = level }
        if let v = top["public_scheme"], let text = string(v, at: top.path("public_scheme")) {
            if text == "http" || text == "https" {
                settings.publicScheme = text
            } else {
                fail(top.path("public_scheme"), "must be http or https")
            }
        }
        if let v = top["tracing"] { tracingSettings(v, at: top.path("tracing"), into: &settings.tracing) }
        if let v = top["tls"], let tls = object(v, at: top.path("tls"), allowed: ["certificate_file", "key_file"]) {
            let certificate = required(tls, "certificate_file").flatMap { string($0, at: tls.path("certificate_file")) }
            let key = required(tls, "key_file").flatMap { string($0, at: tls.path("key_file")) }
            if let certificate, let key { settings.tls = ListenerTLS(certificateFile: certificate, keyFile: key) }
        }
        return settings
    }

    mutating func socketAddress(_ value: JSONValue, at path: FieldPath) -> SocketAddressSpec? {
        guard let text = string(value, at: path) else { return nil }
        guard let address = SocketAddressSpec(text), !address.host.contains(where: { $0 == " " || $0 == "/" }) else {
            fail(path, "must be HOST:PORT (e.g. \"127.0.0.1:8080\", \"[::1]:8080\" or \":8080\")")
            return nil
        }
        return address
    }

    mutating func storeLocation(_ value: JSONValue, at path: FieldPath) -> StoreLocation? {
        guard let text = string(value, at: path) else { return nil }
        switch StoreSpec.parse(text) {
        case .success(let store): return store
        case .failure(let invalid):
            fail(path, invalid.message)
            return nil
        }
    }

    mutating func logLevel(_ value: JSONValue, at path: FieldPath) -> LogLevel? {
        guard let text = string(value, at: path) else { return nil }
        guard let level = LogLevel(rawValue: text.lowercased()) else {
            fail(path, "must be one of \(LogLevel.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return level
    }

    private mutating func identitySettings(_ value: JSONValue, at path: FieldPath, into identity: inout IdentitySettings) {
        let keys: Set<String> = [
            "clock_skew_seconds", "jwks_cache_seconds", "jwks_min_refresh_seconds", "jwks_max_stale_seconds",
            "max_token_bytes", "token_cache_entries", "insecure_idp_hosts",
        ]
        guard let fields = object(value, at: path, allowed: keys) else { return }
        func int(_ key: String, _ range: ClosedRange<Int>, _ target: inout Int) {
            if let v = fields[key], let n = integer(v, at: fields.path(key), in: range) { target = n }
        }
        int("clock_skew_seconds", 0...3600, &identity.clockSkewSeconds)
        int("jwks_cache_seconds", 1...InputLimits.maxSeconds, &identity.jwksCacheSeconds)
        // 0 would let a flood of unknown `kid`s turn into a flood of fetches at the IdP.
        int("jwks_min_refresh_seconds", 1...86400, &identity.jwksMinRefreshSeconds)
        int("jwks_max_stale_seconds", 0...InputLimits.maxSeconds, &identity.jwksMaxStaleSeconds)
        int("max_token_bytes", 256...(1 << 20), &identity.maxTokenBytes)
        int("token_cache_entries", 0...10_000_000, &identity.tokenCacheEntries)
        if let v = fields["insecure_idp_hosts"], let hosts = insecureHosts(v, at: fields.path("insecure_idp_hosts")) {
            identity.insecureIdPHosts = hosts
        }
    }

    private mutating func insecureHosts(_ value: JSONValue, at path: FieldPath) -> [String]? {
        guard let raw = stringList(value, at: path) else { return nil }
        return checked { reader in
            raw.enumerated().compactMap { i, text in
                switch HostNames.hostOrIPv6(text) {
                case .success(let host): return host
                case .failure(let invalid):
                    reader.fail(path.index(i), invalid.message)
                    return nil
                }
            }
        }
    }

    private mutating func protectedPrefixes(_ value: JSONValue, at path: FieldPath) -> [String]? {
        guard let raw = stringList(value, at: path, maxBytes: InputLimits.maxNameBytes) else { return nil }
        return checked { reader in
            raw.enumerated().compactMap { i, prefix in
                guard HeaderName.isValid(prefix) else {
                    reader.fail(path.index(i), "is not a valid header name prefix")
                    return nil
                }
                return HeaderName.canonical(prefix)
            }
        }
    }

    private mutating func tracingSettings(_ value: JSONValue, at path: FieldPath, into tracing: inout TracingSettings) {
        let keys: Set<String> = ["enabled", "endpoint", "sample_ratio", "service_name", "record_subject"]
        guard let fields = object(value, at: path, allowed: keys) else { return }
        if let v = fields["enabled"], let b = bool(v, at: fields.path("enabled")) { tracing.enabled = b }
        if let v = fields["record_subject"], let b = bool(v, at: fields.path("record_subject")) { tracing.recordSubject = b }
        if let v = fields["sample_ratio"], let n = number(v, at: fields.path("sample_ratio"), in: 0...1) { tracing.sampleRatio = n }
        if let v = fields["service_name"], let name = string(v, at: fields.path("service_name"), maxBytes: InputLimits.maxNameBytes) {
            if name.isEmpty || name.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
                fail(fields.path("service_name"), "must be a non-empty name without control characters")
            } else {
                tracing.serviceName = name
            }
        }
        if let v = fields["endpoint"], let text = string(v, at: fields.path("endpoint")) {
            // Credentials or a query in the URL would end up in diagnostics; a collector that
            // needs them is reached through a local agent.
            if let url = ParsedURL(text), url.scheme == "http" || url.scheme == "https", !url.hasUserInfo, url.query == nil,
                url.fragment == nil
            {
                tracing.endpoint = text
            } else {
                fail(fields.path("endpoint"), "must be an http:// or https:// URL without credentials, query or fragment")
            }
        }
    }

    private mutating func assertionSettings(_ value: JSONValue, at path: FieldPath, into assertion: inout AssertionSettings) {
        guard let fields = object(value, at: path, allowed: ["enabled", "header", "issuer", "key_dir", "ttl_seconds"]) else {
            return
        }
        if let v = fields["enabled"], let b = bool(v, at: fields.path("enabled")) { assertion.enabled = b }
        if let v = fields["header"], let header = string(v, at: fields.path("header"), maxBytes: InputLimits.maxNameBytes) {
            if let problem = HeaderRules.problemWithSetHeader(header) {
                fail(fields.path("header"), problem)
            } else {
                assertion.header = header
            }
        }
        if let v = fields["issuer"], let issuer = string(v, at: fields.path("issuer")) { assertion.issuer = issuer }
        if let v = fields["key_dir"], let dir = string(v, at: fields.path("key_dir")) { assertion.keyDir = dir }
        if let v = fields["ttl_seconds"], let n = integer(v, at: fields.path("ttl_seconds"), in: 1...86400) {
            assertion.ttlSeconds = n
        }
    }

    private mutating func globalLimits(_ value: JSONValue, at path: FieldPath, into limits: inout GlobalLimits) {
        let keys: Set<String> = [
            "max_request_body_bytes", "max_header_bytes", "upstream_connect_timeout_seconds", "upstream_idle_timeout_seconds",
            "shutdown_grace_seconds",
        ]
        guard let fields = object(value, at: path, allowed: keys) else { return }
        if let v = fields["max_request_body_bytes"], let n = integer(v, at: fields.path("max_request_body_bytes"), in: 1...(1 << 40)) {
            limits.maxRequestBodyBytes = n
        }
        if let v = fields["max_header_bytes"], let n = integer(v, at: fields.path("max_header_bytes"), in: 1024...(1 << 20)) {
            limits.maxHeaderBytes = n
        }
        let seconds = 0.001...Double(InputLimits.maxSeconds)
        if let v = fields["upstream_connect_timeout_seconds"],
            let n = number(v, at: fields.path("upstream_connect_timeout_seconds"), in: seconds)
        {
            limits.upstreamConnectTimeoutSeconds = n
        }
        if let v = fields["upstream_idle_timeout_seconds"], let n = number(v, at: fields.path("upstream_idle_timeout_seconds"), in: seconds) {
            limits.upstreamIdleTimeoutSeconds = n
        }
        if let v = fields["shutdown_grace_seconds"], let n = number(v, at: fields.path("shutdown_grace_seconds"), in: 0...3600) {
            limits.shutdownGraceSeconds = n
        }
    }
}
