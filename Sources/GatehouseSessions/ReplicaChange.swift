import Crypto
import GatehouseCore

/// A change one replica made that the others must enforce within a second (DESIGN 9).
public enum ReplicaChange: Sendable, Hashable {
    /// A session binding was bound, revoked or ended: drop it from memory; the store has the truth.
    case binding(SessionKey)
    /// The registered IdPs of a tenant changed: re-read them from the store.
    case registeredIdPs(TenantID)
}

/// Turns changes into NOTIFY payloads and back. Anyone who may LISTEN on the database sees
/// the payloads (and a server log may record them), so they are sealed (AES-256-GCM) with a
/// key derived from the sealing key, which every replica shares already: a session id never
/// travels in the clear. Each payload names the replica that sent it, so that a replica can
/// skip its own.
public struct ReplicaChangeCodec: Sendable {
    /// This process's random id (not secret).
    public let origin: String
    private let keyBytes: [UInt8]
    private static let version = "g1"

    public init(sealingKey: SealingKey) {
        self.init(flowKey: sealingKey.bytes)
    }

    init(flowKey: [UInt8], origin: String = Secrets.hex(Secrets.randomBytes(8))) {
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: flowKey), info: Array("gatehouse replica changes v1".utf8), outputByteCount: 32)
        self.keyBytes = derived.withUnsafeBytes { Array($0) }
        self.origin = origin
    }

    public func encode(_ change: ReplicaChange) throws -> String {
        let plain: String
        switch change {
        case .binding(let key): plain = "b\u{0}\(key.tenant.rawValue)\u{0}\(key.header)\u{0}\(key.id)"
        case .registeredIdPs(let tenant): plain = "i\u{0}\(tenant.rawValue)"
        }
        let box = try AES.GCM.seal(Array(plain.utf8), using: SymmetricKey(data: keyBytes), authenticating: Array(origin.utf8))
        guard let combined = box.combined else { throw SealingKeyError(description: "AES-GCM produced no combined box") }
        return "\(Self.version).\(origin).\(Base64URL.encode(Array(combined)))"
    }

    /// The sender and the change, or nil for a payload this key cannot open (another
    /// deployment's, a replica with another key folder, or garbage).
    public func decode(_ payload: String) -> (origin: String, change: ReplicaChange)? {
        let parts = payload.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == Self.version, parts[1].utf8.count <= 64,
            let sealed = Base64URL.decode(String(parts[2])),
            let box = try? AES.GCM.SealedBox(combined: sealed),
            let plain = try? AES.GCM.open(box, using: SymmetricKey(data: keyBytes), authenticating: Array(parts[1].utf8)),
            let text = String(validating: Array(plain), as: UTF8.self)
        else { return nil }
        let fields = text.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
        switch (fields.first, fields.count) {
        case ("b", 4):
            guard let tenant = TenantID(fields[1]) else { return nil }
            return (String(parts[1]), .binding(SessionKey(tenant: tenant, header: fields[2], id: fields[3])))
        case ("i", 2):
            guard let tenant = TenantID(fields[1]) else { return nil }
            return (String(parts[1]), .registeredIdPs(tenant))
        default:
            return nil
        }
    }
}
