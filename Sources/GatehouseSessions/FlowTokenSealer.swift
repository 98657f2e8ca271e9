import Crypto
import GatehouseCore

/// Seals user tokens with AES-256-GCM under the sealing key (`SealingKey`). The associated data
/// binds a sealed token to its flow (tenant and session id): a row copied onto another flow does
/// not open.
///
/// Holds the raw key bytes (a `SymmetricKey` is not `Sendable`) and wraps them per call.
struct FlowTokenSealer: Sendable {
    private let keyBytes: [UInt8]

    init(keyBytes: [UInt8]) {
        self.keyBytes = keyBytes
    }

    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    func seal(_ token: String, tenant: TenantID, sessionID: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(Array(token.utf8), using: key, authenticating: Self.associatedData(tenant, sessionID))
        // `combined` is nil only for a nonce size other than 12 bytes, which `seal` never makes.
        guard let combined = box.combined else { throw SealingKeyError(description: "AES-GCM produced no combined box") }
        return Array(combined)
    }

    /// The token, or nil when the box is damaged, belongs to another flow or another key.
    func open(_ sealed: [UInt8], tenant: TenantID, sessionID: String) -> String? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Self.associatedData(tenant, sessionID))
        else { return nil }
        return String(validating: Array(plain), as: UTF8.self)
    }

    static func associatedData(_ tenant: TenantID, _ sessionID: String) -> [UInt8] {
        Array("gatehouse-flow-token-v1\u{0}\(tenant.rawValue)\u{0}\(sessionID)".utf8)
    }
}
