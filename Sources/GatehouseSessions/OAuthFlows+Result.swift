import GatehouseCore

/// What an OAuth flow endpoint answers. The proxy writes it as it is; `reason` is for the access
/// log and metrics only (short, fixed vocabulary, never a token or an id).
public struct FlowResult: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    public var reason: String

    public init(status: Int, headers: [(String, String)], body: [UInt8], reason: String) {
        self.status = status
        self.headers = headers
        self.body = body
        self.reason = reason
    }

    /// The first value of `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.0.lowercased() == lower }?.1
    }

    /// A JSON answer to the authenticated API (`POST /.gatehouse/oauth/flows`).
    static func json(_ status: Int, _ value: JSONValue, reason: String) -> FlowResult {
        FlowResult(
            status: status,
            headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
            body: Array(value.compactText.utf8), reason: reason)
    }

    /// The standard error body (docs/status-codes.md "Error body"); `field` names the offending request member on a 422.
    static func jsonError(_ status: Int, _ code: String, _ description: String, field: String? = nil) -> FlowResult {
        var members: [String: JSONValue] = ["error": .string(code), "error_description": .string(description)]
        if let field { members["field"] = .string(field) }
        return json(status, .object(members), reason: code)
    }

    /// A browser page. Pages are fixed text: nothing from the request is reflected (no XSS), and
    /// `no-referrer` keeps the callback's query (the session id) out of any later navigation.
    static func page(_ status: Int, _ page: FlowPage, reason: String, extraHeaders: [(String, String)] = []) -> FlowResult {
        FlowResult(status: status, headers: browserHeaders + extraHeaders, body: page.html, reason: reason)
    }

    /// Headers every browser-facing answer carries (pages and the start redirect).
    static let browserHeaders: [(String, String)] = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    ]
}
