/// One thing wrong with the configuration, reported by `gatehouse check`, at startup, on reload
/// and (as 422 field errors) by the admin API.
public struct ConfigProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file, relative to the config file's folder (`tenants/acme.yaml`), or `environment`
    /// for an environment override. Empty for input that did not come from a file (admin API).
    public var file: String
    /// The failing key, e.g. `idps[0].allowed_clients`. Empty when the problem is the whole file.
    public var path: String
    public var message: String

    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    /// `FILE: KEY.PATH: message` (docs/configuration.md "Commands"); empty parts are left out rather than printed as `: :`.
    public var description: String {
        var parts: [String] = []
        if !file.isEmpty { parts.append(file) }
        if !path.isEmpty { parts.append(path) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}
