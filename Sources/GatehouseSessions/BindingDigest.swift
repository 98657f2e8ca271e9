import Crypto
import GatehouseCore

/// How a change notification names a session binding without its session id: 128 bits of an
/// HMAC-SHA256 of (tenant, header, id), keyed with a random salt the first replica settles in
/// the store (`BindingDigester.saltName`).
///
/// Why a digest: a replica that ended or revoked a binding tells the others to drop it from
/// memory, and the payload of a NOTIFY is seen by every session that can LISTEN on the database
/// and may be written to the server's log, so the id must not travel. A reference to a row
/// would not do: an ended binding has no row left, and every announced change would cost each
/// replica a read. With a digest, a receiver looks the binding up in an index it keeps (see
/// `SessionTable`) and the database does no work. The salt needs no file: every replica reads
/// it from the store, while someone who can only LISTEN cannot confirm a guessed session id
/// (whoever can read the tables sees the ids anyway).
public struct BindingDigest: Sendable, Hashable {
    public static let byteCount = 16
    private let high: UInt64
    private let low: UInt64

    /// Nil unless `bytes` holds exactly `byteCount` bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
    }
}

/// Computes `BindingDigest`s with one deployment's salt.
public struct BindingDigester: Sendable, Equatable {
    /// The salt's name in `ReplicaStore.settledValue`.
    public static let saltName = "binding_digest_salt"
    public static let saltByteCount = 32
    private let salt: [UInt8]

    /// Nil for a salt shorter than `saltByteCount` (a damaged store row).
    public init?(salt: [UInt8]) {
        guard salt.count >= Self.saltByteCount else { return nil }
        self.salt = salt
    }

    /// Tenant ids and canonical header names never contain NUL, nor do session ids (visible
    /// ASCII): NUL separators keep ("ab", "c") and ("a", "bc") apart.
    public func digest(_ key: SessionKey) -> BindingDigest {
        let message = Array("\(key.tenant.rawValue)\u{0}\(key.header)\u{0}\(key.id)".utf8)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: salt))
        return BindingDigest(bytes: Array(code.prefix(BindingDigest.byteCount)))!
    }
}
