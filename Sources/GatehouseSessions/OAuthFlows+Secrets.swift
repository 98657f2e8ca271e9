import Crypto
import GatehouseCore

/// Random values, hashes and comparisons used by the flows. Start handles and cookie secrets
/// are 256-bit random values in base64url (43 characters).
enum FlowSecrets {
    static let secretLength = 43

    /// 32 bytes from the system CSPRNG, base64url.
    static func random256() -> String { Secrets.randomToken(bytes: 32) }

    static func randomBytes(_ count: Int) -> [UInt8] { Secrets.randomBytes(count) }

    /// Cheap shape check so that junk never reaches the store.
    static func isWellFormedSecret(_ s: String) -> Bool {
        s.utf8.count == secretLength && Base64URL.decode(s)?.count == 32
    }

    static func sha256Hex(_ s: String) -> String {
        hex(SHA256.hash(data: Array(s.utf8)))
    }

    static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 { Secrets.hex(bytes) }

    static func constantTimeEquals(_ a: String, _ b: String) -> Bool { Secrets.constantTimeEquals(a, b) }

    /// What the logs may say about a session id: a short hash prefix, enough to correlate lines.
    static func logID(_ sessionID: String) -> String {
        String(sha256Hex(sessionID).prefix(12))
    }

    /// One cookie per flow, so that several flows running in one browser never overwrite each
    /// other. The name is derived from tenant and session id (both known to the callback, which
    /// can therefore find the cookie of each candidate flow) but reveals neither.
    static func cookieName(tenant: TenantID, sessionID: String) -> String {
        "gh_flow_" + String(sha256Hex(tenant.rawValue + "\u{0}" + sessionID).prefix(16))
    }
}
