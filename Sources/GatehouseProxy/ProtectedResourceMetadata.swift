import GatehouseCore

/// RFC 9728 Protected Resource Metadata per tenant (docs/request-path.md "Reserved endpoints").
enum ProtectedResourceMetadata {
    static let wellKnownPath = "/.well-known/oauth-protected-resource"

    /// The PRM URL announced in `WWW-Authenticate` for a request to `host` on this tenant.
    static func url(scheme: String, host: String?, tenant: CompiledTenant?) -> String {
        let authority = host ?? "localhost"
        var url = "\(scheme)://\(authority)\(wellKnownPath)"
        if let tenant, let prefix = tenant.tenant.match.pathPrefix, !tenant.tenant.match.hosts.contains(authorityHost(authority)) {
            url += prefix
        }
        return url
    }

    static func document(scheme: String, host: String?, tenant: CompiledTenant) -> JSONValue {
        let authority = host ?? "localhost"
        var resource = "\(scheme)://\(authority)"
        if let prefix = tenant.tenant.match.pathPrefix, !tenant.tenant.match.hosts.contains(authorityHost(authority)) {
            resource += prefix
        }
        return .object([
            "resource": .string(resource),
            "authorization_servers": .array(tenant.authorizationServers.map(JSONValue.string)),
            "scopes_supported": .array(tenant.scopesSupported.map(JSONValue.string)),
            "bearer_methods_supported": .array([.string("header")]),
            "resource_name": .string(tenant.tenant.displayName),
        ])
    }

    /// Host without port, lower-cased.
    static func authorityHost(_ authority: String) -> String {
        if authority.hasPrefix("[") {
            if let close = authority.firstIndex(of: "]") { return String(authority[...close]).lowercased() }
            return authority.lowercased()
        }
        if let colon = authority.lastIndex(of: ":") { return String(authority[..<colon]).lowercased() }
        return authority.lowercased()
    }
}
