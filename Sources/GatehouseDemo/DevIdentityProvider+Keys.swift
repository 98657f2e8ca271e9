import Crypto
import GatehouseCore
import _CryptoExtras

/// A signing key of the development IdP.
struct DevSigningKey: @unchecked Sendable {
    // `@unchecked`: swift-crypto does not mark P256 keys `Sendable` on every platform, although
    // a key is an immutable value whose BoringSSL object is only ever read after creation.
    enum Material {
        case rsa(_RSA.Signing.PrivateKey)
        case p256(P256.Signing.PrivateKey)
    }

    let kid: String
    let material: Material

    var algorithm: String {
        switch material {
        case .rsa: "RS256"
        case .p256: "ES256"
        }
    }

    static func rsa() throws -> DevSigningKey {
        DevSigningKey(kid: randomID(), material: .rsa(try _RSA.Signing.PrivateKey(keySize: .bits2048)))
    }

    static func p256() -> DevSigningKey {
        DevSigningKey(kid: randomID(), material: .p256(P256.Signing.PrivateKey()))
    }

    /// The public half as an RFC 7517 JWK.
    var publicJWK: JSONValue {
        switch material {
        case .rsa(let key):
            // Primitives of a freshly generated key are always available.
            let primitives = try? key.publicKey.getKeyPrimitives()
            let modulus = primitives.map { Array($0.modulus) } ?? []
            let exponent = primitives.map { Array($0.publicExponent) } ?? []
            return .object([
                "kty": .string("RSA"), "kid": .string(kid), "use": .string("sig"), "alg": .string("RS256"),
                "n": .string(Base64URL.encode(modulus)),
                "e": .string(Base64URL.encode(exponent)),
            ])
        case .p256(let key):
            let raw = Array(key.publicKey.rawRepresentation)  // x || y
            return .object([
                "kty": .string("EC"), "crv": .string("P-256"), "kid": .string(kid), "use": .string("sig"),
                "alg": .string("ES256"),
                "x": .string(Base64URL.encode(raw[0..<32])), "y": .string(Base64URL.encode(raw[32..<64])),
            ])
        }
    }

    /// RS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 3.3), not swift-crypto's default PSS;
    /// ES256 is the raw 64-byte r || s form (RFC 7518 3.4), not DER.
    func sign(_ input: [UInt8]) throws -> [UInt8] {
        switch material {
        case .rsa(let key):
            return Array(try key.signature(for: SHA256.hash(data: input), padding: .insecurePKCS1v1_5).rawRepresentation)
        case .p256(let key):
            return Array(try key.signature(for: input).rawRepresentation)
        }
    }

    static func randomID(bytes: Int = 12) -> String {
        var rng = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }
}
