import Crypto
import GatehouseCore

/// Random values, hashes and comparisons used by the flows. Start handles and cookie secrets
/// are 256-bit random values in base64url (43 characters).
enum FlowSecrets {
    static let secretLength = 43

    /// 32 bytes from the system CSPRNG, base64url.
    static func random256() -> String { Base64URL.encode(randomBytes(32)) }

    /// Bytes from the system CSPRNG (`getrandom` on Linux).
    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// Cheap shape check so that junk never reaches the store.
    static func isWellFormedSecret(_ s: String) -> Bool {
        s.utf8.count == secretLength && Base64URL.decode(s)?.count == 32
    }

    static func sha256Hex(_ s: String) -> String {
        hex(SHA256.hash(data: Array(s.utf8)))
    }

    static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Equality whose running time does not depend on where the inputs differ (only on their
    /// lengths, which are public: both are SHA-256 hex).
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }

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
