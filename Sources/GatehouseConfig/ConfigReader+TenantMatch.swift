import GatehouseCore

/// `match:` of a tenant (tenants/README.md): which hosts and which path prefix select it.
extension ConfigReader {
    /// Paths Gatehouse answers itself (docs/request-path.md "Reserved endpoints"); a tenant prefix under them would never be reached.
    static let reservedPathPrefixes = ["/.well-known", "/.gatehouse"]

    mutating func tenantMatch(_ value: JSONValue, at path: FieldPath) -> TenantMatch? {
        guard let fields = object(value, at: path, allowed: ["hosts", "path_prefix", "strip_prefix"]) else { return nil }
        var match = TenantMatch()
        if let v = fields["hosts"], let hosts = matchHosts(v, at: fields.path("hosts")) { match.hosts = hosts }
        if let v = fields["path_prefix"] { match.pathPrefix = pathPrefix(v, at: fields.path("path_prefix")) }
        if let v = fields["strip_prefix"], let b = bool(v, at: fields.path("strip_prefix")) { match.stripPrefix = b }
        return match
    }

    private mutating func matchHosts(_ value: JSONValue, at path: FieldPath) -> [String]? {
        guard let raw = stringList(value, at: path, maxBytes: 253) else { return nil }
        return checked { r in
            var hosts: [String] = []
            for (i, text) in raw.enumerated() {
                switch HostNames.dnsName(text) {
                case .success(let host) where hosts.contains(host):
                    r.fail(path.index(i), "duplicate host \(FieldPath.quoted(host))")
                case .success(let host):
                    hosts.append(host)
                case .failure(let invalid):
                    r.fail(path.index(i), invalid.message)
                }
            }
            return hosts
        }
    }

    private mutating func pathPrefix(_ value: JSONValue, at path: FieldPath) -> String? {
        guard let prefix = string(value, at: path, maxBytes: InputLimits.maxNameBytes) else { return nil }
        if let message = ConfigReader.pathPrefixProblem(prefix) {
            fail(path, message)
            return nil
        }
        return prefix
    }

    static func pathPrefixProblem(_ prefix: String) -> String? {
        guard prefix.hasPrefix("/") else { return "must start with \"/\"" }
        guard prefix != "/" else { return "must name a path below \"/\" (leave path_prefix out to match by host or issuer)" }
        guard !prefix.hasSuffix("/") else { return "must not end with \"/\"" }
        let segments = prefix.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        if segments.contains(where: \.isEmpty) { return "must not contain empty segments (\"//\")" }
        if segments.contains(where: { $0 == "." || $0 == ".." }) { return "must not contain \".\" or \"..\" segments" }
        // Only characters that mean the same encoded or not: a prefix with `%`, `?` or `#` would
        // match differently depending on how a client chose to encode the path.
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/".utf8)
        guard prefix.utf8.allSatisfy(allowed.contains) else {
            return "may only contain letters, digits, \"/\" and -._~!$&'()*+,;=:@"
        }
        for reserved in reservedPathPrefixes where prefix == reserved || prefix.hasPrefix(reserved + "/") {
            return "must not be under \(reserved), which Gatehouse reserves for itself"
        }
        return nil
    }
}
