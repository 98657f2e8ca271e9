import GatehouseCore

/// A change one replica made that the others must enforce within a second.
public enum ReplicaChange: Sendable, Hashable {
    /// A session binding was bound, revoked or ended: drop it from memory; the store has the truth.
    case binding(BindingDigest)
    /// Registered IdPs changed: re-read them from the store. (Receivers re-read every tenant's,
    /// so which tenant is not sent: nothing a listener needs to learn.)
    case registeredIdPs
    /// A replica registered assertion keys: re-read the published keys from the store.
    case replicaKeys
}

/// Turns changes into NOTIFY payloads and back: `g2.<origin>.b.<digest>`, `g2.<origin>.i`,
/// `g2.<origin>.k`, where origin is the sending process's random id (so that a replica skips
/// its own) and digest a `BindingDigest` in base64url.
///
/// A payload carries no secret and needs none to be read: replicas stay in step with nothing
/// shared but the database. A session id never travels (only its digest), and since anyone
/// allowed to NOTIFY on the database can send anything on the channel, `decode` is strict and
/// bounded, and what a payload can make a replica do is harmless: drop a binding from memory
/// (re-read from the store on its next use) or re-read IdPs or keys (coalesced by the caller).
public struct ReplicaChangeCodec: Sendable {
    /// This process's random id (not secret).
    public let origin: String
    static let version = "g2"
    /// Longer payloads are refused before they are split.
    public static let maxPayloadBytes = 128

    public init(origin: String = Secrets.hex(Secrets.randomBytes(8))) {
        self.origin = origin
    }

    public func encode(_ change: ReplicaChange) -> String {
        let body: String
        switch change {
        case .binding(let digest): body = "b.\(Base64URL.encode(digest.bytes))"
        case .registeredIdPs: body = "i"
        case .replicaKeys: body = "k"
        }
        return "\(Self.version).\(origin).\(body)"
    }

    /// The sender and the change, or nil for anything else (another version, damage, a forgery
    /// that does not parse).
    public func decode(_ payload: String) -> (origin: String, change: ReplicaChange)? {
        guard payload.utf8.count <= Self.maxPayloadBytes else { return nil }
        let parts = payload.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard parts.count >= 3, parts[0] == Self.version, Self.isOrigin(parts[1]) else { return nil }
        let change: ReplicaChange
        switch (parts[2], parts.count) {
        case ("b", 4):
            guard parts[3].utf8.count == 22, let bytes = Base64URL.decode(parts[3]), let digest = BindingDigest(bytes: bytes) else { return nil }
            change = .binding(digest)
        case ("i", 3): change = .registeredIdPs
        case ("k", 3): change = .replicaKeys
        default: return nil
        }
        return (parts[1], change)
    }

    /// 1–64 ASCII letters, digits and `-`.
    static func isOrigin(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
    }
}
