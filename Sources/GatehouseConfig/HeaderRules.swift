import GatehouseCore

/// Which header names a tenant may have Gatehouse set (`propagate`, `sessions`, the assertion header).
enum HeaderRules {
    /// Hop-by-hop and framing headers: setting one from a claim could smuggle a second request,
    /// truncate a body or re-route the connection (canonical spelling).
    static let framing: Set<String> = [
        "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length", "host",
        "content-type", "content-encoding", "expect",
    ]

    /// Credentials: a claim must never become (or overwrite) one.
    static let credentials: Set<String> = ["authorization", "cookie", "set-cookie"]

    /// Set by Gatehouse on every forwarded request (docs/request-path.md "What an agent receives"); a rule would fight with them.
    static let setByGatehouse: Set<String> = [
        "forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id", "traceparent", "tracestate",
    ]

    /// Why `name` cannot be set on forwarded requests, or nil when it can.
    static func problemWithSetHeader(_ name: String) -> String? {
        guard HeaderName.isValid(name) else { return "is not a valid header name" }
        let canonical = HeaderName.canonical(name)
        if framing.contains(canonical) || canonical.hasPrefix("proxy-") {
            return "\(FieldPath.quoted(name)) is a hop-by-hop or framing header and cannot be set by Gatehouse"
        }
        if credentials.contains(canonical) {
            return "\(FieldPath.quoted(name)) carries credentials and cannot be set from a claim"
        }
        if setByGatehouse.contains(canonical) {
            return "\(FieldPath.quoted(name)) is set by Gatehouse itself"
        }
        return nil
    }
}
