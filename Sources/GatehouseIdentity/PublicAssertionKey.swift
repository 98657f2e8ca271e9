import Crypto
import GatehouseCore

/// One public assertion key as `/.gatehouse/jwks.json` publishes it: this replica's own, or
/// another replica's read back from the store — which anyone able to write the table could
/// have filled with anything, so a key is only made from a kid and bytes that pass the checks.
public struct PublicAssertionKey: Sendable, Hashable {
    public let kid: String
    /// X9.63 uncompressed (`0x04 || x || y`).
    public let x963: [UInt8]

    /// Nil unless `kid` is 1–128 visible ASCII characters and `x963` a point on P-256 (65 bytes).
    public init?(kid: String, x963: [UInt8]) {
        guard (1...128).contains(kid.utf8.count), kid.utf8.allSatisfy({ (0x21...0x7E).contains($0) }), x963.count == 65,
            (try? P256.Signing.PublicKey(x963Representation: x963)) != nil
        else { return nil }
        self.kid = kid
        self.x963 = x963
    }

    init(kid: String, key: P256.Signing.PublicKey) {
        self.kid = kid
        self.x963 = Array(key.x963Representation)
    }

    /// The JWK, built from the checked bytes (never from stored text).
    var jwk: JSONValue {
        .object([
            "kty": .string("EC"), "crv": .string("P-256"),
            "x": .string(Base64URL.encode(x963[1..<33])), "y": .string(Base64URL.encode(x963[33..<65])),
            "kid": .string(kid), "alg": .string("ES256"), "use": .string("sig"),
        ])
    }
}
