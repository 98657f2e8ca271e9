import GatehouseSessions

/// Admin request paths as logs may show them: a session id in
/// `/admin/v1/tenants/{t}/sessions/{header}/{id}` becomes the short hash the data plane's logs
/// use for it (session ids are bearer-like values; query strings are never logged at all).
enum AdminLogPath {
    static func redacted(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        // "", admin, v1, tenants, {t}, sessions, {header}, {id}
        guard parts.count == 8, parts[1] == "admin", parts[3] == "tenants", parts[5] == "sessions" else { return path }
        return parts.dropLast().joined(separator: "/") + "/" + SessionTable.logLabel(String(parts[7]))
    }
}
