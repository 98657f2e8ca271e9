import GatehouseCore

/// Rules that span tenants (tenants/README.md): a request must resolve to one tenant, never a guess.
enum CrossTenantChecks {
    /// What one tenant file asks to be recognised by. A file with problems elsewhere claims the
    /// valid part of its `match:` too, so a clash shows up in the same run, not after the fix.
    struct Claim {
        let tenant: TenantID
        let file: String
        let match: TenantMatch
    }

    /// Problems are reported on the later claim (in file order) and name the earlier tenant.
    static func problems(_ claims: [Claim]) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        var hostOwner: [String: TenantID] = [:]
        var prefixes = PrefixIndex()
        for claim in claims {
            let file = claim.file
            for (i, host) in claim.match.hosts.enumerated() {
                if let owner = hostOwner[host] {
                    problems.append(ConfigProblem(file: file, path: "match.hosts[\(i)]",
                                                  message: "host \(FieldPath.quoted(host)) is already claimed by tenant \(owner)"))
                } else {
                    hostOwner[host] = claim.tenant
                }
            }
            if let prefix = claim.match.pathPrefix {
                if let other = prefixes.firstOverlapping(prefix) {
                    problems.append(ConfigProblem(file: file, path: "match.path_prefix",
                                                  message: "\(FieldPath.quoted(prefix)) overlaps \(FieldPath.quoted(other.prefix)) of tenant \(other.tenant)"))
                } else {
                    prefixes.insert(prefix, claim.tenant)
                }
            }
        }
        return problems
    }

    /// The path prefixes accepted so far. Two prefixes overlap when one is the other or a
    /// whole-segment prefix of it: `/t/acme` and `/t/acme/x` do, `/t/acme` and `/t/acmex` do not
    /// (matching is on segment boundaries). A check costs one lookup per segment of the new
    /// prefix, not one comparison per tenant (with 10,000 tenants that took seconds).
    struct PrefixIndex {
        typealias Owner = (prefix: String, tenant: TenantID, order: Int)
        /// Each accepted prefix.
        private var exact: [Substring: Owner] = [:]
        /// Each proper whole-segment prefix of an accepted prefix -> the first prefix below it.
        private var below: [Substring: Owner] = [:]
        private var count = 0

        /// `path[..<i]` for each `/` at `i > 0`: `/t/acme/x` -> `/t`, `/t/acme`.
        private static func ancestors(_ path: String) -> [Substring] {
            var result: [Substring] = []
            var i = path.startIndex
            while let slash = path[path.index(after: i)...].firstIndex(of: "/") {
                result.append(path[..<slash])
                i = slash
                if slash == path.index(before: path.endIndex) { break }
            }
            return result
        }

        /// The earliest accepted prefix that overlaps `prefix`.
        func firstOverlapping(_ prefix: String) -> (prefix: String, tenant: TenantID)? {
            guard !prefix.isEmpty else { return nil }
            var candidates: [Owner] = []
            if let same = exact[prefix[...]] { candidates.append(same) }
            if let under = below[prefix[...]] { candidates.append(under) }
            for ancestor in Self.ancestors(prefix) {
                if let above = exact[ancestor] { candidates.append(above) }
            }
            return candidates.min { $0.order < $1.order }.map { ($0.prefix, $0.tenant) }
        }

        mutating func insert(_ prefix: String, _ tenant: TenantID) {
            let owner: Owner = (prefix, tenant, count)
            count += 1
            if exact[prefix[...]] == nil { exact[prefix[...]] = owner }
            for ancestor in Self.ancestors(prefix) where below[ancestor] == nil { below[ancestor] = owner }
        }
    }
}
