import GatehouseCore

/// Turns `gatehouse.yaml` and `tenants/*.yaml` into one validated `ConfigSnapshot`, or into the
/// complete list of problems (never a half-valid result). Pure apart from reading the files.
public enum ConfigLoader {
    /// Settings plus every tenant file: what `serve` starts with and `check` validates. A broken
    /// `gatehouse.yaml` does not hide the tenant files' problems: one run reports them all, the
    /// config file's first, then each tenant file's in file order, then those across tenants.
    public static func load(
        configFile: String, environment: [String: String], allowMissing: Bool = false
    ) -> Result<ConfigSnapshot, [ConfigProblem]> {
        let reading = readSettings(configFile: configFile, environment: environment, allowMissing: allowMissing)
        var problems = reading.problems
        var tenants: [Tenant] = []
        if let folder = reading.tenants {
            let checked = checkTenants(in: folder.dir, namedBy: folder.namedBy, settings: reading.settings, unsettled: reading.unsettled)
            tenants = checked.tenants
            problems += checked.problems
        }
        return problems.isEmpty ? .success(ConfigSnapshot(settings: reading.settings, tenants: tenants)) : .failure(problems)
    }

    /// Reads `gatehouse.yaml`, applies the `GATEHOUSE_*` overrides and makes paths absolute
    /// (relative to the config file's folder). With `allowMissing`, a missing file means "all defaults".
    public static func loadSettings(
        configFile: String, environment: [String: String], allowMissing: Bool = false
    ) -> Result<GatehouseSettings, [ConfigProblem]> {
        readSettings(configFile: configFile, environment: environment, allowMissing: allowMissing).result
    }

    static func readSettings(configFile: String, environment: [String: String], allowMissing: Bool) -> SettingsReading {
        let path = FilePaths.absolute(configFile, relativeTo: FilePaths.currentDirectory())
        let base = FilePaths.directory(of: path)
        var reader = ConfigReader(file: FilePaths.lastComponent(path))
        var settings = GatehouseSettings()
        var unreadable = false
        switch FilePaths.readText(path, maxBytes: InputLimits.maxFileBytes) {
        case .success(let text):
            switch YAMLDocument.parse(text) {
            case .success(let root):
                settings = reader.settings(root)
                if case .object = root {} else { unreadable = true }
            case .failure(let failure):
                reader.fail(.root, failure.message)
                unreadable = true
            }
            settings.configFile = path
        case .failure(.notFound) where allowMissing:
            break
        case .failure(let failure):
            reader.fail(.root, failure.description)
            unreadable = true
        }
        let unsettled = UnsettledSettings(
            wholeFile: unreadable, paths: reader.problems.map(\.path) + reader.misspeltKeys.map(\.description))
        let environmentProblems = EnvironmentOverrides.apply(environment, to: &settings)
        resolvePaths(in: &settings, base: base)
        // The config file's own lines first (the TLS files are named there), then the environment.
        var problems = reader.problems
        problems += checkTLSFiles(settings, file: reader.file)
        problems += environmentProblems
        problems += loadOperatorToken(into: &settings, base: base)
        let file = settings.configFile == nil ? "" : reader.file
        let tenants = SettingsReading.tenantsFolder(
            settings.tenantsDir, file: file, environment: environment, environmentProblems: environmentProblems, unsettled: unsettled)
        return SettingsReading(settings: settings, problems: problems, unsettled: unsettled, tenants: tenants)
    }

    private static func resolvePaths(in settings: inout GatehouseSettings, base: String) {
        settings.tenantsDir = FilePaths.absolute(settings.tenantsDir, relativeTo: base)
        settings.assertion.keyDir = FilePaths.absolute(settings.assertion.keyDir, relativeTo: base)
        if let file = settings.operatorTokenFile { settings.operatorTokenFile = FilePaths.absolute(file, relativeTo: base) }
        if let file = settings.sealingKeyFile { settings.sealingKeyFile = FilePaths.absolute(file, relativeTo: base) }
        if case .sqlite(let path) = settings.store { settings.store = .sqlite(path: FilePaths.absolute(path, relativeTo: base)) }
        if let tls = settings.tls {
            settings.tls = ListenerTLS(
                certificateFile: FilePaths.absolute(tls.certificateFile, relativeTo: base), keyFile: FilePaths.absolute(tls.keyFile, relativeTo: base))
        }
    }

    /// The listener's certificate and key must be readable PEM files (their contents are checked
    /// when the listener starts).
    private static func checkTLSFiles(_ settings: GatehouseSettings, file: String) -> [ConfigProblem] {
        guard let tls = settings.tls else { return [] }
        var problems: [ConfigProblem] = []
        for (key, path) in [("tls.certificate_file", tls.certificateFile), ("tls.key_file", tls.keyFile)] {
            switch FilePaths.readText(path, maxBytes: InputLimits.maxFileBytes) {
            case .success(let text) where text.contains("-----BEGIN "): break
            case .success: problems.append(ConfigProblem(file: file, path: key, message: "\(path) is not a PEM file"))
            case .failure(let failure): problems.append(ConfigProblem(file: file, path: key, message: failure.description))
            }
        }
        return problems
    }

    private static func loadOperatorToken(into settings: inout GatehouseSettings, base: String) -> [ConfigProblem] {
        if let token = settings.operatorToken {
            guard OperatorToken.isUsable(token) else {
                return [ConfigProblem(file: EnvironmentOverrides.displayName, path: EnvironmentOverrides.operatorToken,
                                      message: "must be printable ASCII without spaces")]
            }
            return []
        }
        guard let file = settings.operatorTokenFile else { return [] }
        let problem = { (message: String) in
            ConfigProblem(file: FilePaths.display(file, relativeTo: base), path: "", message: message)
        }
        switch OperatorToken.read(from: file) {
        case .success(let token):
            if let token, !OperatorToken.isUsable(token) { return [problem("operator token must be printable ASCII without spaces")] }
            settings.operatorToken = token
            return []
        case .failure(let failure):
            return [problem(failure.description)]
        }
    }
}
