import GatehouseCore

/// One IdP (tenants/README.md `idps[]`), from a tenant file or from the admin API: the same rules for both.
extension ConfigReader {
    static let identityProviderKeys: Set<String> = [
        "name", "issuer", "discovery_url", "jwks_uri", "allowed_clients", "allowed_audiences", "required_scopes",
        "token_use", "algorithms", "claims",
    ]

    /// - Parameter fixedName: the name from the admin API's URL; nil when the `name` key carries it.
    mutating func identityProvider(
        _ value: JSONValue, at path: FieldPath, fixedName: String?, settings: GatehouseSettings,
        source: IdentityProviderSource
    ) -> IdentityProvider? {
        checked { r in r.identityProviderFields(value, at: path, fixedName: fixedName, settings: settings, source: source) }
    }

    private mutating func identityProviderFields(
        _ value: JSONValue, at path: FieldPath, fixedName: String?, settings: GatehouseSettings,
        source: IdentityProviderSource
    ) -> IdentityProvider? {
        guard let fields = object(value, at: path, allowed: ConfigReader.identityProviderKeys) else { return nil }

        let name = identityProviderName(fields, fixedName: fixedName)
        let issuer = required(fields, "issuer").flatMap { issuerURL($0, at: fields.path("issuer")) }

        let discoveryURL = fields["discovery_url"].flatMap {
            keyURL($0, at: fields.path("discovery_url"), settings: settings, source: source)
        }
        let jwksURI = fields["jwks_uri"].flatMap { keyURL($0, at: fields.path("jwks_uri"), settings: settings, source: source) }
        if fields["discovery_url"] == nil, fields["jwks_uri"] == nil {
            fail(fields.path("discovery_url"), "discovery_url or jwks_uri is required (where the IdP's signing keys are found)")
        }

        let clients = fields["allowed_clients"].flatMap { stringList($0, at: fields.path("allowed_clients")) } ?? []
        let audiences = fields["allowed_audiences"].flatMap { stringList($0, at: fields.path("allowed_audiences")) } ?? []
        // A present but malformed list has its own problem already; only "nothing listed" is reported here.
        let listsSomething = [fields["allowed_clients"], fields["allowed_audiences"]].contains { $0 != nil && $0 != .array([]) }
        if !listsSomething {
            fail(fields.path("allowed_clients"),
                 "allowed_clients or allowed_audiences must list at least one value (an IdP that accepts any audience is refused)")
        }
        let scopes = fields["required_scopes"].flatMap { requiredScopes($0, at: fields.path("required_scopes")) } ?? []
        let tokenUse = fields["token_use"].flatMap { string($0, at: fields.path("token_use"), maxBytes: InputLimits.maxNameBytes) }
        let algorithms = fields["algorithms"].flatMap { self.algorithms($0, at: fields.path("algorithms")) } ?? JWSAlgorithm.defaults
        let claims = fields["claims"].flatMap { claimRules($0, at: fields.path("claims")) } ?? []

        guard let name, let issuer else { return nil }
        return IdentityProvider(
            name: name, issuer: issuer, discoveryURL: discoveryURL, jwksURI: jwksURI, allowedClients: clients,
            allowedAudiences: audiences, requiredScopes: scopes, tokenUse: tokenUse, algorithms: algorithms,
            claims: claims, source: source)
    }

    private mutating func identityProviderName(_ fields: ObjectFields, fixedName: String?) -> String? {
        let namePath = fields.path("name")
        guard let fixedName else {
            guard let v = required(fields, "name"), let name = string(v, at: namePath, maxBytes: InputLimits.maxNameBytes) else {
                return nil
            }
            guard IdentityProvider.isValidName(name) else {
                fail(namePath, "must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}")
                return nil
            }
            return name
        }
        guard IdentityProvider.isValidName(fixedName) else {
            fail(namePath, "must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}")
            return nil
        }
        // A body copied from a GET may repeat the name; it must then agree with the URL.
        if let v = fields["name"], v != .string(fixedName) {
            fail(namePath, "does not match the name in the URL")
            return nil
        }
        return fixedName
    }

    private mutating func issuerURL(_ value: JSONValue, at path: FieldPath) -> String? {
        guard let text = string(value, at: path) else { return nil }
        guard ParsedURL(text) != nil else {
            fail(path, "must be an absolute URL (e.g. \"https://idp.example.com/\"), exactly as the tokens' iss claim")
            return nil
        }
        return text
    }

    /// `discovery_url` / `jwks_uri`: https only, unless the operator listed the host as insecure
    /// (development IdPs). The key set decides which signatures are trusted, so it must not be
    /// fetchable by whoever can tamper with plain http.
    private mutating func keyURL(
        _ value: JSONValue, at path: FieldPath, settings: GatehouseSettings, source: IdentityProviderSource
    ) -> String? {
        guard let text = string(value, at: path) else { return nil }
        guard let url = ParsedURL(text), url.scheme == "https" || url.scheme == "http" else {
            fail(path, "must be an absolute https URL")
            return nil
        }
        guard !url.hasUserInfo, url.fragment == nil else {
            fail(path, "must not contain user info or a fragment")
            return nil
        }
        let insecureAllowed = settings.identity.insecureIdPHosts.contains(url.host)
        guard url.scheme == "https" || insecureAllowed || unsettled.contains(UnsettledSettings.insecureIdPHosts) else {
            fail(path, "must use https (host \(FieldPath.quoted(url.host)) is not listed in identity.insecure_idp_hosts)")
            return nil
        }
        if source == .admin, !insecureAllowed, InternalHosts.isObviouslyInternal(url.host) {
            fail(path, "must point to a public host")
            return nil
        }
        return text
    }

    private mutating func requiredScopes(_ value: JSONValue, at path: FieldPath) -> [String]? {
        guard let scopes = stringList(value, at: path, maxBytes: InputLimits.maxNameBytes) else { return nil }
        return checked { r in
            for (i, scope) in scopes.enumerated() where scope.contains(" ") {
                r.fail(path.index(i), "a scope cannot contain spaces (list each scope separately)")
            }
            return scopes
        }
    }

    private mutating func algorithms(_ value: JSONValue, at path: FieldPath) -> [JWSAlgorithm]? {
        guard let items = list(value, at: path, maxCount: InputLimits.maxAlgorithms) else { return nil }
        guard !items.isEmpty else {
            fail(path, "must list at least one algorithm (leave it out for the default: RS256, ES256)")
            return nil
        }
        return checked { r in
            var result: [JWSAlgorithm] = []
            for (i, item) in items.enumerated() {
                guard let text = r.string(item, at: path.index(i), maxBytes: 32) else { continue }
                if let algorithm = JWSAlgorithm(rawValue: text) {
                    if !result.contains(algorithm) { result.append(algorithm) }
                } else {
                    r.fail(path.index(i), ConfigReader.algorithmProblem(text))
                }
            }
            return result
        }
    }

    static func algorithmProblem(_ text: String) -> String {
        let allowed = JWSAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")
        let upper = text.uppercased()
        if upper == "NONE" {
            return "\"none\" is never allowed: it accepts unsigned tokens (allowed: \(allowed))"
        }
        if upper.hasPrefix("HS") {
            return "\(FieldPath.quoted(text)) is never allowed: HMAC would let anyone holding the shared secret, or a public key misused as one, mint tokens (allowed: \(allowed))"
        }
        return "unknown algorithm \(FieldPath.quoted(text)) (allowed: \(allowed))"
    }
}
