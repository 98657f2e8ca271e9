/// Carries a swift-crypto key across concurrency domains.
///
/// `@unchecked` because swift-crypto 3.12 does not mark its EC/EdDSA key types `Sendable` on all
/// platforms, although they are immutable values: the BoringSSL key behind one is never mutated
/// after creation, and signing/verifying only reads it (BoringSSL documents `EC_KEY`/`EVP_PKEY`
/// as safe for concurrent read-only use).
struct CryptoKeyBox<Key>: @unchecked Sendable {
    let key: Key

    init(_ key: Key) {
        self.key = key
    }
}
