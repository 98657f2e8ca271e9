import GatehouseCore

/// A response Gatehouse writes itself (docs/status-codes.md "What Gatehouse answers itself"). Errors map to HTTP here and only here.
struct LocalResponse {
    var status: ResponseStatus
    var headers: ResponseFields
    var body: [UInt8]
    /// Short reason for logs and metrics (`missing_token`, `expired`, `no_upstream`…).
    var reason: String?

    init(status: ResponseStatus, headers: ResponseFields = ResponseFields(), body: [UInt8], reason: String? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.reason = reason
    }

    static func json(_ status: ResponseStatus, _ value: JSONValue, headers: ResponseFields = ResponseFields()) -> LocalResponse {
        var h = headers
        h.replaceOrAdd(name: "content-type", value: "application/json")
        h.replaceOrAdd(name: "cache-control", value: "no-store")
        return LocalResponse(status: status, headers: h, body: Array(value.compactText.utf8))
    }

    static func error(
        _ status: ResponseStatus, _ code: String, _ description: String, headers: ResponseFields = ResponseFields(),
        reason: String? = nil
    ) -> LocalResponse {
        var r = json(status, .object(["error": .string(code), "error_description": .string(description)]), headers: headers)
        r.reason = reason ?? code
        return r
    }

    /// 401 / 403 / 503 for an authentication failure, with RFC 6750 `WWW-Authenticate`
    /// pointing at the tenant's Protected Resource Metadata (RFC 9728). `scopes`: what the
    /// tenant requires, named in a 401's challenge so that a client (an MCP client in
    /// particular) knows what to ask its authorization server for.
    static func authFailure(_ failure: AuthError, resourceMetadataURL: String, scopes: [String] = []) -> LocalResponse {
        let prm = "resource_metadata=\"\(resourceMetadataURL)\""
        let scopeParameter = scopes.isEmpty ? "" : ", scope=\"\(scopeList(scopes))\""
        var headers = ResponseFields()
        switch failure.kind {
        case .missingToken:
            headers.add(name: "www-authenticate", value: "Bearer realm=\"gatehouse\"\(scopeParameter), \(prm)")
            return error(.unauthorized, "unauthorized", "a bearer token is required", headers: headers, reason: failure.reason)
        case .invalidToken:
            let description = describe(failure.reason)
            headers.add(
                name: "www-authenticate",
                value: "Bearer realm=\"gatehouse\", error=\"invalid_token\", error_description=\"\(description)\"\(scopeParameter), \(prm)")
            return error(.unauthorized, "invalid_token", description, headers: headers, reason: failure.reason)
        case .insufficientScope(let required):
            let scope = scopeList(required)
            headers.add(
                name: "www-authenticate",
                value: "Bearer realm=\"gatehouse\", error=\"insufficient_scope\", scope=\"\(scope)\", \(prm)")
            return error(.forbidden, "insufficient_scope", "the token lacks a required scope", headers: headers, reason: failure.reason)
        case .keysUnavailable:
            headers.add(name: "retry-after", value: "5")
            return error(
                .serviceUnavailable, "temporarily_unavailable", "the identity provider's keys are unavailable", headers: headers,
                reason: failure.reason)
        }
    }

    /// Scope tokens for a quoted parameter: anything that could break out of the quotes is left out.
    static func scopeList(_ scopes: [String]) -> String {
        scopes.filter { s in !s.isEmpty && s.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C } }.joined(separator: " ")
    }

    /// A fixed, token-free description per reason: the client learns what class of problem
    /// it has, the log gets the detail.
    static func describe(_ reason: String) -> String {
        switch reason {
        case "expired": return "the token has expired"
        case "not_yet_valid", "issued_in_future": return "the token is not valid yet"
        case "unknown_issuer": return "the token's issuer is not trusted here"
        case "ambiguous_tenant": return "the token matches more than one tenant"
        case "audience": return "the token is not meant for this audience"
        case "client": return "the token's client is not allowed"
        case "too_large": return "the token is too large"
        case "malformed": return "the token is malformed"
        case "algorithm": return "the token's algorithm is not allowed"
        case "unknown_kid": return "the token's signing key is unknown"
        case "bad_signature": return "the token's signature is invalid"
        default: return "the token is invalid"
        }
    }
}
