import Crypto
import GatehouseCore

/// The sealing key could not be read or created, or it is not the store's.
public struct SealingKeyError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// The AES-256 key that seals OAuth user tokens at rest: `sealing_key_file` in `gatehouse.yaml`
/// (default `<assertion.key_dir>/flow-token.key`). It is the one secret every replica sharing a
/// store must hold: a token sealed by one replica is opened by whichever replica gets the
/// callback. It never goes into the store; only its check value does.
public struct SealingKey: Sendable {
    /// Where the key was read from (absolute), for messages.
    public let path: String
    let bytes: [UInt8]

    init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
    }

    /// HMAC-SHA256 of a fixed label under the key: equal for equal keys, different otherwise,
    /// and nothing about the key can be learnt from it, so it may sit in the store in clear.
    public var checkValue: [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("gatehouse sealing key check v1".utf8), using: SymmetricKey(data: bytes)))
    }

    var sealer: FlowTokenSealer { FlowTokenSealer(keyBytes: bytes) }

    /// The name of the key's check value in `ReplicaStore.settledValue`.
    static let checkValueName = "sealing_key_check"

    /// Records the key's check value in a store used for the first time; throws when the store
    /// was first used with another key. Without this a replica given the wrong key would start
    /// and serve, and only fail later, at an OAuth callback, with `flow_token_unreadable`.
    public func verify(against store: any ReplicaStore) async throws {
        let mine = checkValue
        let recorded = try await store.settledValue(Self.checkValueName, proposing: mine)
        guard Secrets.constantTimeEquals(recorded, mine) else {
            throw SealingKeyError(
                description: "the sealing key \(path) is not the key this store was first used with: every replica sharing a store "
                    + "must load the same sealing_key_file (an OAuth user token sealed by one replica must open on the others)")
        }
    }
}
