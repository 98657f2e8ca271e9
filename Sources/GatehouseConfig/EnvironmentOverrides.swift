import GatehouseCore

/// `GATEHOUSE_*` variables win over the file (docs/configuration.md "Environment overrides"). An empty variable counts as unset, so
/// `GATEHOUSE_LISTEN=` in a compose file does not replace a good value with a broken one.
enum EnvironmentOverrides {
    static let listen = "GATEHOUSE_LISTEN"
    static let adminListen = "GATEHOUSE_ADMIN_LISTEN"
    static let store = "GATEHOUSE_STORE"
    static let tenantsDir = "GATEHOUSE_TENANTS_DIR"
    static let operatorToken = "GATEHOUSE_OPERATOR_TOKEN"
    static let logLevel = "GATEHOUSE_LOG_LEVEL"

    /// Shown as the file of problems in overrides.
    static let displayName = "environment"

    static func apply(_ environment: [String: String], to settings: inout GatehouseSettings) -> [ConfigProblem] {
        var reader = ConfigReader(file: displayName)
        func value(_ name: String) -> JSONValue? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            return .string(text)
        }
        let at = { (name: String) in FieldPath.root.key(name) }
        if let v = value(listen), let address = reader.socketAddress(v, at: at(listen)) { settings.listen = address }
        if let v = value(adminListen), let address = reader.socketAddress(v, at: at(adminListen)) { settings.adminListen = address }
        if let v = value(store), let location = reader.storeLocation(v, at: at(store)) { settings.store = location }
        if let v = value(tenantsDir), let dir = reader.string(v, at: at(tenantsDir)) { settings.tenantsDir = dir }
        if let v = value(logLevel), let level = reader.logLevel(v, at: at(logLevel)) { settings.logLevel = level }
        if let text = environment[operatorToken] {
            let token = OperatorToken.trimmed(text)
            if let token {
                settings.operatorToken = token
                settings.operatorTokenFile = nil
            }
        }
        return reader.problems
    }
}
