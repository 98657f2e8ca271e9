/// What `gatehouse.yaml` tried and failed to say: the file could not be read as a map at all, or
/// some of its lines are broken (a misspelt key counts as a broken line of the key it was meant to
/// be). Tenant files are still checked, but a rule that compares them with such a setting is
/// skipped: the default standing in for it would only produce follow-on problems, reported on
/// every tenant for one mistake in `gatehouse.yaml`.
struct UnsettledSettings: Sendable {
    static let insecureIdPHosts = "identity.insecure_idp_hosts"
    static let assertionHeader = "assertion.header"
    static let protectedPrefixes = "propagation.protected_prefixes"
    static let tenantsDir = "tenants_dir"

    /// The file was missing, unreadable, not YAML or not a map: none of its settings is known.
    var wholeFile = false
    /// `KEY.PATH`s of broken lines, and of the keys misspelt ones were probably meant to be.
    var paths: [String] = []

    /// Whether `key` (a dotted settings path) is unknown because the file is.
    func contains(_ key: String) -> Bool { wholeFile || lineBroken(key) }

    /// Whether the line of `key`, a line under it (`identity.insecure_idp_hosts[0]`) or one above
    /// it (`identity: 5`) is broken.
    func lineBroken(_ key: String) -> Bool {
        paths.contains { path in
            path == key || path.hasPrefix(key + ".") || path.hasPrefix(key + "[") || (!path.isEmpty && key.hasPrefix(path + "."))
        }
    }
}
