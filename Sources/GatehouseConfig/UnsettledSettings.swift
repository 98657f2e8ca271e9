/// What `gatehouse.yaml` tried and failed to say: the file could not be read as a map at all, or
/// some of its lines are broken (a misspelt key counts as a broken line of the key it was meant to
/// be). The default standing in for such a setting is no basis for checking anything else.
struct UnsettledSettings: Sendable {
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
