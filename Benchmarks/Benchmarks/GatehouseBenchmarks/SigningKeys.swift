import Crypto
import GatehouseCore
import _CryptoExtras

/// One key per benchmarked algorithm, the JWKS that publishes them, and tokens signed with them.
/// Keys are made fresh for every run: nothing secret is stored in the repository.
struct SigningKeys {
    let rsa: _RSA.Signing.PrivateKey
    let p256: P256.Signing.PrivateKey
    let ed25519: Curve25519.Signing.PrivateKey

    init() throws {
        rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        p256 = P256.Signing.PrivateKey()
        ed25519 = Curve25519.Signing.PrivateKey()
    }

    static func kid(_ algorithm: JWSAlgorithm) -> String { "bench-\(algorithm.rawValue.lowercased())" }

    /// `{"keys":[...]}` with the three public keys.
    func jwks() throws -> [UInt8] {
        let primitives = try rsa.publicKey.getKeyPrimitives()
        let point = Array(p256.publicKey.x963Representation)  // 0x04 || x || y
        let keys: [JSONValue] = [
            .object([
                "kty": .string("RSA"), "kid": .string(Self.kid(.RS256)), "alg": .string("RS256"), "use": .string("sig"),
                "n": .string(Base64URL.encode(Array(primitives.modulus))), "e": .string(Base64URL.encode(Array(primitives.publicExponent))),
            ]),
            .object([
                "kty": .string("EC"), "crv": .string("P-256"), "kid": .string(Self.kid(.ES256)), "alg": .string("ES256"),
                "x": .string(Base64URL.encode(point[1..<33])), "y": .string(Base64URL.encode(point[33..<65])),
            ]),
            .object([
                "kty": .string("OKP"), "crv": .string("Ed25519"), "kid": .string(Self.kid(.EdDSA)), "alg": .string("EdDSA"),
                "x": .string(Base64URL.encode(Array(ed25519.publicKey.rawRepresentation))),
            ]),
        ]
        return Array(JSONValue.object(["keys": .array(keys)]).compactText.utf8)
    }

    /// A compact JWS of `claims`, signed with this set's key for `algorithm`.
    func token(_ algorithm: JWSAlgorithm, claims: JSONValue) throws -> String {
        let header = JSONValue.object(["alg": .string(algorithm.rawValue), "typ": .string("JWT"), "kid": .string(Self.kid(algorithm))])
        let signingInput = Base64URL.encode(header.compactText) + "." + Base64URL.encode(claims.compactText)
        let message = Array(signingInput.utf8)
        let signature: [UInt8]
        switch algorithm {
        case .RS256:
            signature = Array(try rsa.signature(for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5).rawRepresentation)
        case .ES256:
            signature = Array(try p256.signature(for: SHA256.hash(data: message)).rawRepresentation)
        case .EdDSA:
            signature = Array(try ed25519.signature(for: message))
        default:
            throw FixtureError("no benchmark key for \(algorithm.rawValue)")
        }
        return signingInput + "." + Base64URL.encode(signature)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
