import Foundation
import GatehouseCore
@testable import GatehouseConfig

/// A real, empty directory under the system temp dir, removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/gatehouse-config-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ relativePath: String, _ text: String) throws -> String {
        let full = path + "/" + relativePath
        try FileManager.default.createDirectory(atPath: FilePaths.directory(of: full), withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
        return full
    }

    func remove(_ relativePath: String) throws {
        try FileManager.default.removeItem(atPath: path + "/" + relativePath)
    }
}

/// Tenant YAML built from a baseline that passes validation, with fields replaced or removed.
/// Values are YAML flow text (`"[a, b]"`, `"{x: 1}"`); nil removes the field.
enum Fixture {
    static let idp: [String: String] = [
        "name": "main",
        "issuer": "\"https://idp.example.com/\"",
        "jwks_uri": "\"https://idp.example.com/jwks.json\"",
        "allowed_clients": "[client-1]",
    ]

    static func idpFlow(_ overrides: [String: String?] = [:]) -> String {
        var fields = idp.mapValues { Optional($0) }
        for (k, v) in overrides { fields[k] = v }
        let parts = fields.keys.sorted().compactMap { k in fields[k]!.map { "\(k): \($0)" } }
        return "{" + parts.joined(separator: ", ") + "}"
    }

    static func tenant(id: String = "acme", idp overrides: [String: String?] = [:], _ top: [String: String?] = [:]) -> String {
        var fields: [String: String?] = [
            "id": id,
            "idps": "[\(idpFlow(overrides))]",
            "upstreams": "[{url: \"http://127.0.0.1:7001\"}]",
        ]
        for (k, v) in top { fields[k] = v }
        return fields.keys.sorted().compactMap { k in fields[k]!.map { "\(k): \($0)" } }.joined(separator: "\n") + "\n"
    }

    static func settings(insecure: [String] = []) -> GatehouseSettings {
        var s = GatehouseSettings()
        s.identity.insecureIdPHosts = insecure
        return s
    }

    static func parse(_ yaml: String, stem: String = "acme", settings: GatehouseSettings = settings()) -> Result<Tenant, [ConfigProblem]> {
        ConfigLoader.parseTenant(yaml: yaml, fileStem: stem, displayFile: "tenants/\(stem).yaml", settings: settings)
    }

    static func problems(_ yaml: String, stem: String = "acme", settings: GatehouseSettings = settings()) -> [ConfigProblem] {
        if case .failure(let p) = parse(yaml, stem: stem, settings: settings) { return p }
        return []
    }

    static func paths(_ yaml: String, stem: String = "acme", settings: GatehouseSettings = settings()) -> [String] {
        problems(yaml, stem: stem, settings: settings).map(\.path)
    }

    static func idpProblems(_ json: String, name: String = "main", source: IdentityProviderSource = .admin,
                            settings: GatehouseSettings = settings()) throws -> [ConfigProblem] {
        let value = try JSONParser.parse(json)
        if case .failure(let p) = ConfigLoader.parseIdentityProvider(value, name: name, settings: settings, source: source) {
            return p
        }
        return []
    }
}

extension Result {
    var value: Success? {
        if case .success(let v) = self { return v }
        return nil
    }

    var problems: [ConfigProblem] {
        if case .failure(let e) = self, let p = e as? [ConfigProblem] { return p }
        return []
    }
}
