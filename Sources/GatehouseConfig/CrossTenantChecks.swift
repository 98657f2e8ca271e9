import GatehouseCore

/// Rules that span tenants (DESIGN 2.2): a request must resolve to one tenant, never a guess.
enum CrossTenantChecks {
    /// Problems are reported on the later tenant (in file order) and name the earlier one.
    static func problems(_ tenants: [Tenant], displayFile: (Tenant) -> String) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        var hostOwner: [String: TenantID] = [:]
        var prefixes: [(prefix: String, tenant: TenantID)] = []
        for tenant in tenants {
            let file = displayFile(tenant)
            for (i, host) in tenant.match.hosts.enumerated() {
                if let owner = hostOwner[host] {
                    problems.append(ConfigProblem(file: file, path: "match.hosts[\(i)]",
                                                  message: "host \(FieldPath.quoted(host)) is already claimed by tenant \(owner)"))
                } else {
                    hostOwner[host] = tenant.id
                }
            }
            if let prefix = tenant.match.pathPrefix {
                if let other = prefixes.first(where: { overlap($0.prefix, prefix) }) {
                    problems.append(ConfigProblem(file: file, path: "match.path_prefix",
                                                  message: "\(FieldPath.quoted(prefix)) overlaps \(FieldPath.quoted(other.prefix)) of tenant \(other.tenant)"))
                } else {
                    prefixes.append((prefix, tenant.id))
                }
            }
        }
        return problems
    }

    /// Prefixes overlap when one is the other or a whole-segment prefix of it: `/t/acme` and
    /// `/t/acme/x` do, `/t/acme` and `/t/acmex` do not (matching is on segment boundaries).
    static func overlap(_ a: String, _ b: String) -> Bool {
        a == b || b.hasPrefix(a + "/") || a.hasPrefix(b + "/")
    }
}
