import Crypto
import GatehouseCore
import GatehouseHTTP
import GatehouseSessions
import NIOHTTP1

/// Who is calling the admin API (docs/admin-api.md "Authentication").
public enum AdminCaller: Sendable, Hashable {
    case `operator`
    /// A tenant admin key: acts on its own tenant only.
    case tenantKey(id: String, tenant: TenantID)

    /// The audit log's `actor`: `operator`, or the key id.
    public var actor: String {
        switch self {
        case .operator: "operator"
        case .tenantKey(let id, _): id
        }
    }
}

/// Tenant admin keys: `ghk_<id>_<secret>`, where the id (16 hex digits) is public and names the
/// key in listings and the audit log, and the secret is 256 random bits. Only the SHA-256 of the
/// whole key is stored.
enum AdminKey {
    static let prefix = "ghk_"

    static func generate() -> (id: String, key: String) {
        let id = Secrets.hex(Secrets.randomBytes(8))
        return (id, prefix + id + "_" + Secrets.randomToken(bytes: 32))
    }

    /// The id inside a well-formed key, nil for anything else.
    static func id(of key: String) -> String? {
        guard key.hasPrefix(prefix) else { return nil }
        let rest = key.utf8.dropFirst(prefix.utf8.count)
        guard rest.count == 16 + 1 + 43, rest[rest.index(rest.startIndex, offsetBy: 16)] == UInt8(ascii: "_") else { return nil }
        let id = String(decoding: rest.prefix(16), as: UTF8.self)
        guard id.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        return id
    }

    static func hash(_ key: String) -> String { Secrets.hex(SHA256.hash(data: Array(key.utf8))) }
}

/// The bearer token of an admin request, if it has exactly one well-formed `Authorization: Bearer`.
func adminBearerToken(_ headers: HTTPHeaders) -> String? {
    let values = headers[canonicalForm: "authorization"]
    guard values.count == 1 else { return nil }
    let value = values[0]
    guard value.count > 7, value.prefix(7).lowercased() == "bearer " else { return nil }
    let token = Substring(value.dropFirst(7)).trimmingSpaces
    guard !token.isEmpty, token.utf8.count <= 512, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
    return String(token)
}
