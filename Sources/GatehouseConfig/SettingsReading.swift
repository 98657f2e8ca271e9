import GatehouseCore

/// `gatehouse.yaml` with its overrides, good or not: the settings (defaults where a line is
/// broken), every problem, and what is needed to go on and check the tenant files anyway.
struct SettingsReading {
    var settings: GatehouseSettings
    var problems: [ConfigProblem]
    var unsettled: UnsettledSettings
    /// The tenants folder to check and who named it; nil when no folder can be trusted (its line
    /// is broken): checking another folder would report problems of files nobody meant.
    var tenants: (dir: String, namedBy: TenantsDirSource)?

    var result: Result<GatehouseSettings, [ConfigProblem]> {
        problems.isEmpty ? .success(settings) : .failure(problems)
    }

    /// The tenants folder to check whatever else is wrong: the environment's when it names one,
    /// else the file's unless its line is broken; the default when the file could not be read.
    static func tenantsFolder(
        _ dir: String, file: String, environment: [String: String], environmentProblems: [ConfigProblem], unsettled: UnsettledSettings
    ) -> (dir: String, namedBy: TenantsDirSource)? {
        if let text = environment[EnvironmentOverrides.tenantsDir], !text.isEmpty {
            let broken = environmentProblems.contains { $0.path == EnvironmentOverrides.tenantsDir }
            return broken ? nil : (dir, .environment)
        }
        if unsettled.lineBroken(UnsettledSettings.tenantsDir) { return nil }
        return (dir, unsettled.wholeFile ? .fallback : .configFile(file))
    }
}

/// Who named the tenants folder, so a folder that is not there is reported on the right line.
enum TenantsDirSource: Equatable {
    /// `tenants_dir` in the file (or its default); the file's display name.
    case configFile(String)
    case environment
    /// The default, because `gatehouse.yaml` could not be read: a missing folder is then a
    /// follow-on of that, not news.
    case fallback

    func missingDirectory(_ dir: String) -> ConfigProblem? {
        let message = "directory not found or not readable: \(dir)"
        switch self {
        case .configFile(let file): return ConfigProblem(file: file, path: UnsettledSettings.tenantsDir, message: message)
        case .environment:
            return ConfigProblem(file: EnvironmentOverrides.displayName, path: EnvironmentOverrides.tenantsDir, message: message)
        case .fallback: return nil
        }
    }
}
