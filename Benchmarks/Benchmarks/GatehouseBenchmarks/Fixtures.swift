import Foundation
import GatehouseCore
import Logging

/// Tenants, settings and claims shared by the benchmarks.
enum Fixtures {
    static let logger = Logger(label: "gatehouse.bench") { _ in SwiftLogNoOpLogHandler() }
    static let client = "bench-client"
    static let upstream = Upstream(url: "http://127.0.0.1:18081")!

    /// Tenant `t<index>`: recognised by `t<index>.agents.example.com`, by `/t/t<index>` and by
    /// its own issuer; one IdP accepting the three benchmarked algorithms.
    static func tenantID(_ index: Int) -> TenantID { TenantID("t\(index)")! }
    static func host(_ index: Int) -> String { "t\(index).agents.example.com" }
    static func pathPrefix(_ index: Int) -> String { "/t/t\(index)" }
    static func issuer(_ index: Int) -> String { "https://idp.example.com/t\(index)" }

    static func tenant(_ index: Int, propagate: [PropagationRule] = Tenant.defaultPropagation) -> Tenant {
        let idp = IdentityProvider(
            name: "idp", issuer: issuer(index), jwksURI: issuer(index) + "/jwks.json", allowedClients: [client],
            algorithms: [.RS256, .ES256, .EdDSA])
        return Tenant(
            id: tenantID(index), displayName: "Tenant \(index)",
            match: TenantMatch(hosts: [host(index)], pathPrefix: pathPrefix(index)),
            idps: [idp], upstreams: [upstream], propagate: propagate)
    }

    /// `count` tenants `t0…t<count-1>`; tenant 0 propagates `propagate`.
    static func snapshot(
        tenants count: Int, propagate: [PropagationRule] = Tenant.defaultPropagation, settings: GatehouseSettings = GatehouseSettings()
    ) -> ConfigSnapshot {
        var tenants = [tenant(0, propagate: propagate)]
        for i in 1..<max(count, 1) { tenants.append(tenant(i)) }
        return ConfigSnapshot(settings: settings, tenants: tenants)
    }

    /// Ten propagated headers, from plain strings to arrays, numbers and nested claims.
    static let tenClaimHeaders: [PropagationRule] = [
        ("X-Tenant-Id", "$tenant"), ("X-User-Id", "sub"), ("X-User-Email", "email"), ("X-User-Name", "name"),
        ("X-Client-Id", "client_id"), ("X-Scopes", "scope"), ("X-Roles", "roles"), ("X-Groups", "cognito:groups"),
        ("X-Org-Id", "org.id"), ("X-Auth-Time", "auth_time"),
    ].map { header, source in
        PropagationRule(header: header, source: source == "$tenant" ? .tenant : .claim(try! ClaimPath(source)))
    }

    /// Claims of a short access token for tenant `index`.
    static func claims(tenant index: Int, now: Double) -> [String: JSONValue] {
        let iat = Int64(now)
        return [
            "iss": .string(issuer(index)), "sub": .string("user-4f1c2a9e"), "client_id": .string(client),
            "email": .string("alice@example.com"), "scope": .string("agents:invoke"),
            "iat": .number(String(iat)), "exp": .number(String(iat + 86_400)),
        ]
    }

    /// Claims of a token of about `bytes` bytes once signed with RS256 (a rich access token with
    /// roles, groups and permissions), with every claim `tenClaimHeaders` reads.
    static func largeClaims(tenant index: Int, now: Double, bytes: Int = 2048) -> JSONValue {
        var claims = claims(tenant: index, now: now)
        claims["name"] = .string("Alice Example")
        claims["scope"] = .string("agents:invoke agents:read sessions:write openid profile email")
        claims["roles"] = .array(["agent-user", "billing-viewer", "support"].map(JSONValue.string))
        claims["cognito:groups"] = .array(["eu-west", "beta-testers", "acme-admins"].map(JSONValue.string))
        claims["org"] = .object(["id": .string("org-0042"), "name": .string("Acme Corp"), "plan": .string("enterprise")])
        claims["auth_time"] = .number(String(Int64(now) - 30))
        claims["jti"] = .string(UUID().uuidString)
        claims["token_use"] = .string("access")
        // Padding with permissions until the signed token reaches the size asked for: the
        // header and an RS256 signature add about 430 bytes; base64url adds a third.
        var permissions: [JSONValue] = []
        while (JSONValue.object(claims).compactText.utf8.count * 4 / 3) + 430 < bytes {
            permissions.append(.string("agents/agent-\(permissions.count)/invoke"))
            claims["permissions"] = .array(permissions)
        }
        return .object(claims)
    }

    /// A fresh directory in the system's temporary folder, for one benchmark process.
    static func temporaryDirectory(_ name: String) throws -> String {
        let path = temporaryRoot + "/gatehouse-bench-\(getpid())-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Removes what `temporaryDirectory(name)` made in this process (a benchmark's teardown).
    static func removeTemporaryDirectories(_ name: String) {
        let prefix = "gatehouse-bench-\(getpid())-\(name)-"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: temporaryRoot)) ?? []
        for entry in entries where entry.hasPrefix(prefix) { try? FileManager.default.removeItem(atPath: temporaryRoot + "/" + entry) }
    }

    private static var temporaryRoot: String {
        var root = NSTemporaryDirectory()
        while root.count > 1, root.hasSuffix("/") { root.removeLast() }
        return root
    }
}
