import Crypto
import GatehouseCore
import _CryptoExtras

extension JSONWebKey {
    /// Checks a JWS signature (RFC 7518 section 3). The caller has already checked `canVerify(alg)`;
    /// a key/algorithm mismatch here is still just `false`.
    ///
    /// ECDSA signatures in JWS are the raw `r || s` concatenation, not DER. PS* uses MGF1 with the
    /// same hash and a salt as long as the hash, which is what `_RSA.Signing.Padding.PSS` does
    /// (BoringSSL `RSA_verify_pss_mgf1` with salt length = digest length), as RFC 7518 3.5 requires.
    func verify(signature: [UInt8], signingInput: [UInt8], algorithm alg: JWSAlgorithm) -> Bool {
        guard canVerify(alg), let material else { return false }
        switch material {
        case .rsa(let key):
            let sig = _RSA.Signing.RSASignature(rawRepresentation: signature)
            switch alg {
            case .RS256: return key.isValidSignature(sig, for: SHA256.hash(data: signingInput), padding: .insecurePKCS1v1_5)
            case .RS384: return key.isValidSignature(sig, for: SHA384.hash(data: signingInput), padding: .insecurePKCS1v1_5)
            case .RS512: return key.isValidSignature(sig, for: SHA512.hash(data: signingInput), padding: .insecurePKCS1v1_5)
            case .PS256: return key.isValidSignature(sig, for: SHA256.hash(data: signingInput), padding: .PSS)
            case .PS384: return key.isValidSignature(sig, for: SHA384.hash(data: signingInput), padding: .PSS)
            case .PS512: return key.isValidSignature(sig, for: SHA512.hash(data: signingInput), padding: .PSS)
            default: return false
            }
        case .p256(let key):
            guard alg == .ES256, signature.count == 64,
                let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
            else { return false }
            return key.key.isValidSignature(sig, for: SHA256.hash(data: signingInput))
        case .p384(let key):
            guard alg == .ES384, signature.count == 96,
                let sig = try? P384.Signing.ECDSASignature(rawRepresentation: signature)
            else { return false }
            return key.key.isValidSignature(sig, for: SHA384.hash(data: signingInput))
        case .ed25519(let key):
            guard alg == .EdDSA, signature.count == 64 else { return false }
            return key.key.isValidSignature(signature, for: signingInput)
        }
    }
}
