import GatehouseCore
import GatehouseIdentity

/// Paths Gatehouse answers itself, before tenant authentication (docs/request-path.md "Reserved endpoints").
enum ReservedEndpoints {
    static let jwksPath = "/.gatehouse/jwks.json"
    static let gatehousePrefix = "/.gatehouse/"

    /// A response when `path` is reserved, else nil (the request goes on to authentication).
    static func handle(
        method: RequestMethod, path: Substring, host: String?, scheme: String, config: CompiledConfig, signer: AssertionSigner?
    ) -> LocalResponse? {
        guard mayBeReserved(path) else { return nil }
        if path == ProtectedResourceMetadata.wellKnownPath || path.hasPrefix(ProtectedResourceMetadata.wellKnownPath + "/") {
            guard method == .get || method == .head else { return methodNotAllowed() }
            return protectedResourceMetadata(path: path, host: host, scheme: scheme, config: config)
        }
        if path == jwksPath {
            guard method == .get || method == .head else { return methodNotAllowed() }
            guard let signer else {
                return .error(.notFound, "not_found", "assertions are disabled")
            }
            var headers = ResponseFields()
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "cache-control", value: "public, max-age=300")
            return LocalResponse(status: .ok, headers: headers, body: signer.jwksDocument)
        }
        if path.hasPrefix(gatehousePrefix) || path == "/.gatehouse" {
            // The OAuth flow endpoints (`OAuthEndpoint`) are matched before this; anything else
            // under /.gatehouse/ is Gatehouse's and never reaches a tenant.
            return .error(.notFound, "not_found", "no such Gatehouse endpoint")
        }
        return nil
    }

    /// The template of a reserved path Gatehouse answered (a span's route): one of a few fixed
    /// strings whatever the path sent.
    static func route(_ path: Substring) -> String {
        if path == jwksPath { return jwksPath }
        if path == ProtectedResourceMetadata.wellKnownPath { return ProtectedResourceMetadata.wellKnownPath }
        if path.hasPrefix(ProtectedResourceMetadata.wellKnownPath + "/") { return ProtectedResourceMetadata.wellKnownPath + "/*" }
        return gatehousePrefix + "*"
    }

    /// Every reserved path, Gatehouse's own and the OAuth endpoints, starts with `/.`
    /// (`/.well-known/…`, `/.gatehouse…`): one byte tells most requests apart from them.
    @inline(__always)
    static func mayBeReserved(_ path: Substring) -> Bool {
        let bytes = path.utf8
        guard bytes.count >= 2 else { return false }
        return bytes[bytes.index(after: bytes.startIndex)] == UInt8(ascii: ".")
    }

    private static func methodNotAllowed() -> LocalResponse {
        var headers = ResponseFields()
        headers.add(name: "allow", value: "GET, HEAD")
        return .error(.methodNotAllowed, "method_not_allowed", "only GET is allowed here", headers: headers)
    }

    /// `/.well-known/oauth-protected-resource[/<path>]`: the tenant is the Host's, else the one
    /// whose path prefix matches `<path>`.
    private static func protectedResourceMetadata(path: Substring, host: String?, scheme: String, config: CompiledConfig) -> LocalResponse {
        var tenant: CompiledTenant?
        if let host, let id = config.snapshot.tenantByHost[ProtectedResourceMetadata.authorityHost(host)] {
            tenant = config.tenants[id]
        } else {
            let rest = path.dropFirst(ProtectedResourceMetadata.wellKnownPath.count)
            if !rest.isEmpty, let match = config.snapshot.tenant(forPath: rest) { tenant = config.tenants[match.tenant] }
        }
        guard let tenant else {
            return .error(.notFound, "not_found", "no protected resource is known at this path")
        }
        var response = LocalResponse.json(.ok, ProtectedResourceMetadata.document(scheme: scheme, host: host, tenant: tenant))
        response.headers.replaceOrAdd(name: "cache-control", value: "public, max-age=300")
        return response
    }
}
