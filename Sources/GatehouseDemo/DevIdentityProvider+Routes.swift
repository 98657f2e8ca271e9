import GatehouseCore
import GatehouseHTTP
import NIOHTTP1

extension DevIdentityProvider {
    static func handle(_ request: HTTPServerRequest, state: State) async -> HTTPServerResponse {
        switch (request.method, request.path) {
        case (.GET, "/.well-known/openid-configuration"):
            let issuer = state.values.withLock { v in
                v.discoveryRequests += 1
                return v.issuer
            }
            return .json(.object([
                "issuer": .string(issuer),
                "jwks_uri": .string(issuer + "/jwks.json"),
                "token_endpoint": .string(issuer + "/token"),
                "response_types_supported": .array([.string("token")]),
                "subject_types_supported": .array([.string("public")]),
                "id_token_signing_alg_values_supported": .array([.string("RS256"), .string("ES256")]),
                "grant_types_supported": .array([.string("client_credentials")]),
            ]))
        case (.GET, "/jwks.json"):
            let (available, keys) = state.values.withLock { v in
                v.jwksRequests += 1
                return (v.jwksAvailable, v.keys)
            }
            guard available else {
                return .error(status: .serviceUnavailable, code: "unavailable", description: "key set switched off for this test")
            }
            var response = HTTPServerResponse.json(.object(["keys": .array(keys.map(\.publicJWK))]))
            response.headers.replaceOrAdd(name: "Cache-Control", value: "public, max-age=300")
            return response
        case (.GET, "/token"), (.POST, "/token"):
            return token(request, state: state)
        case (_, "/.well-known/openid-configuration"), (_, "/jwks.json"), (_, "/token"):
            return .error(status: .methodNotAllowed, code: "method_not_allowed", description: "wrong method")
        default:
            return .error(status: .notFound, code: "not_found", description: "no such endpoint")
        }
    }

    /// Parameters come from the query, a form body or a JSON object body (later wins).
    private static func token(_ request: HTTPServerRequest, state: State) -> HTTPServerResponse {
        var params = request.queryParameters
        if request.method == .POST, !request.body.isEmpty {
            let type = request.headers.first(name: "content-type")?.lowercased() ?? ""
            if type.hasPrefix("application/json") {
                guard let object = (try? JSONParser.parse(request.body))?.objectValue else {
                    return invalid("body is not a JSON object")
                }
                for (name, value) in object {
                    switch value {
                    case .string(let s): params[name] = s
                    case .number(let n): params[name] = n
                    case .array(let items): params[name] = items.compactMap(\.stringValue).joined(separator: ",")
                    default: continue
                    }
                }
            } else {
                for (name, value) in FormURLEncoding.firstValues(FormURLEncoding.parse(request.body)) { params[name] = value }
            }
        }
        let subject = params["sub"] ?? "alice"
        let tenant = params["tenant"] ?? "acme"
        guard !subject.isEmpty, subject.utf8.count <= 256, !tenant.isEmpty, tenant.utf8.count <= 64 else {
            return invalid("sub and tenant must be 1-256 and 1-64 bytes")
        }
        var ttl = state.defaultTTL
        if let text = params["ttl"] {
            guard let value = Int(text), (1...86_400).contains(value) else { return invalid("ttl must be 1-86400 seconds") }
            ttl = value
        }
        let roles = (params["roles"] ?? "").split(separator: ",").map { String($0) }.filter { !$0.isEmpty }
        let (issuer, key) = state.values.withLock { v in
            v.tokensIssued += 1
            return (v.issuer, v.keys.first { $0.algorithm == "RS256" })
        }
        guard let key else { return .error(status: .internalServerError, code: "server_error", description: "no signing key") }
        let claims = standardClaims(
            issuer: issuer, now: state.clock(), subject: subject, tenant: tenant,
            clientID: params["client_id"] ?? "gatehouse-demo", scope: params["scope"], audience: params["aud"],
            roles: roles, ttl: ttl)
        return .json(.object([
            "access_token": .string(sign(claims: claims, header: [:], key: key)),
            "token_type": .string("Bearer"),
            "expires_in": .number(String(ttl)),
        ]))
    }

    private static func invalid(_ description: String) -> HTTPServerResponse {
        .error(status: .badRequest, code: "invalid_request", description: description)
    }
}
