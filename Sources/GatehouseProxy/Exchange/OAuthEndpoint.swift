import GatehouseCore
import GatehouseSessions

/// The OAuth flow endpoints under `/.gatehouse/oauth/` (docs/sessions-and-oauth.md "Verified OAuth 3-legged flows").
enum OAuthEndpoint {
    case createFlow
    case callback
    case start(handle: String)
    case refuse(LocalResponse)

    static let flowsPath = "/.gatehouse/oauth/flows"
    static let callbackPath = "/.gatehouse/oauth/callback"
    /// A flow-creation body is a small JSON object.
    static let maxBodyBytes = 64 * 1024

    static func match(method: RequestMethod, path: Substring) -> OAuthEndpoint? {
        guard ReservedEndpoints.mayBeReserved(path) else { return nil }
        if path == flowsPath {
            return method == .post ? .createFlow : .refuse(methodNotAllowed("POST"))
        }
        if path == callbackPath {
            return method == .get ? .callback : .refuse(methodNotAllowed("GET"))
        }
        if path.hasPrefix(OAuthFlows.startPath) {
            guard method == .get else { return .refuse(methodNotAllowed("GET")) }
            return .start(handle: String(path.dropFirst(OAuthFlows.startPath.count)))
        }
        return nil
    }

    private static func methodNotAllowed(_ allow: String) -> LocalResponse {
        var headers = ResponseFields()
        headers.add(name: "allow", value: allow)
        return .error(.methodNotAllowed, "method_not_allowed", "use \(allow) here", headers: headers)
    }
}
