import Crypto
import GatehouseCore
import _CryptoExtras

/// One public key from an IdP's key set (RFC 7517), reduced to what verification needs.
///
/// Keys that can never verify a token (encryption keys, symmetric keys, weak RSA keys, curves
/// we do not support) are kept with a `refusal` instead of being dropped, so that a token
/// naming one gets a precise reason rather than an unknown-`kid` refetch.
public struct JSONWebKey: Sendable {
    enum Material: Sendable {
        case rsa(_RSA.Signing.PublicKey)
        case p256(CryptoKeyBox<P256.Signing.PublicKey>)
        case p384(CryptoKeyBox<P384.Signing.PublicKey>)
        case ed25519(CryptoKeyBox<Curve25519.Signing.PublicKey>)
    }

    /// Why a key can never be used.
    public enum Refusal: String, Sendable, Hashable {
        /// `use` is not `sig`, or `key_ops` lacks `verify`.
        case notForSigning = "not_for_signing"
        /// `kty: oct`: a shared secret has no place in a public key set.
        case symmetric
        /// RSA modulus below 2048 bits.
        case weak
        /// A key type, curve or size Gatehouse does not verify with.
        case unsupported
        /// Missing or malformed members.
        case invalid
    }

    /// RSA moduli beyond this are refused: verification cost grows with the size and no IdP needs more.
    static let maxRSABits = 8192
    static let minRSABits = 2048

    public var kid: String?
    /// The key's own `alg`, when published: it restricts the key to exactly that algorithm.
    public var algorithm: String?
    /// Nil when this key can never verify a token; `refusal` then says why.
    var material: Material?
    public var refusal: Refusal?

    init(kid: String?, algorithm: String?, material: Material) {
        self.kid = kid
        self.algorithm = algorithm
        self.material = material
    }

    init(kid: String?, algorithm: String?, refusal: Refusal) {
        self.kid = kid
        self.algorithm = algorithm
        self.refusal = refusal
    }

    /// Whether this key may verify a token signed with `alg`: usable, of the algorithm's key type,
    /// and not restricted by its own `alg` to another algorithm.
    public func canVerify(_ alg: JWSAlgorithm) -> Bool {
        guard let material else { return false }
        if let algorithm, algorithm != alg.rawValue { return false }
        switch (material, alg) {
        case (.rsa, .RS256), (.rsa, .RS384), (.rsa, .RS512), (.rsa, .PS256), (.rsa, .PS384), (.rsa, .PS512): return true
        case (.p256, .ES256), (.p384, .ES384), (.ed25519, .EdDSA): return true
        default: return false
        }
    }
}

extension JSONWebKey {
    /// Reads one member of a key set's `keys` array. Never throws: a bad key becomes a refused key.
    static func parse(_ value: JSONValue) -> JSONWebKey {
        guard let members = value.objectValue else { return JSONWebKey(kid: nil, algorithm: nil, refusal: .invalid) }
        var kid: String?
        if let k = members["kid"] {
            guard let s = k.stringValue else { return JSONWebKey(kid: nil, algorithm: nil, refusal: .invalid) }
            kid = s
        }
        var algorithm: String?
        if let a = members["alg"] {
            guard let s = a.stringValue else { return JSONWebKey(kid: kid, algorithm: nil, refusal: .invalid) }
            algorithm = s
        }
        func refused(_ r: Refusal) -> JSONWebKey { JSONWebKey(kid: kid, algorithm: algorithm, refusal: r) }

        if let use = members["use"], use.stringValue != "sig" { return refused(.notForSigning) }
        if let ops = members["key_ops"] {
            guard let list = ops.arrayValue, list.contains(.string("verify")) else { return refused(.notForSigning) }
        }
        guard let kty = members["kty"]?.stringValue else { return refused(.invalid) }

        let material: Material
        switch kty {
        case "RSA":
            guard let n = decodedInteger(members["n"]), let e = decodedInteger(members["e"]), e.count <= 8 else {
                return refused(.invalid)
            }
            let bits = bitLength(n)
            if bits < minRSABits { return refused(.weak) }
            if bits > maxRSABits { return refused(.unsupported) }
            guard let key = try? _RSA.Signing.PublicKey(n: n, e: e) else { return refused(.invalid) }
            material = .rsa(key)
        case "EC":
            guard let crv = members["crv"]?.stringValue else { return refused(.invalid) }
            let size: Int
            switch crv {
            case "P-256": size = 32
            case "P-384": size = 48
            default: return refused(.unsupported)
            }
            guard let x = decoded(members["x"]), let y = decoded(members["y"]), x.count == size, y.count == size else {
                return refused(.invalid)
            }
            let point = [0x04] + x + y
            if size == 32 {
                guard let key = try? P256.Signing.PublicKey(x963Representation: point) else { return refused(.invalid) }
                material = .p256(CryptoKeyBox(key))
            } else {
                guard let key = try? P384.Signing.PublicKey(x963Representation: point) else { return refused(.invalid) }
                material = .p384(CryptoKeyBox(key))
            }
        case "OKP":
            guard members["crv"]?.stringValue == "Ed25519" else { return refused(.unsupported) }
            guard let x = decoded(members["x"]), x.count == 32,
                let key = try? Curve25519.Signing.PublicKey(rawRepresentation: x)
            else { return refused(.invalid) }
            material = .ed25519(CryptoKeyBox(key))
        case "oct":
            return refused(.symmetric)
        default:
            return refused(.unsupported)
        }
        return JSONWebKey(kid: kid, algorithm: algorithm, material: material)
    }

    private static func decoded(_ value: JSONValue?) -> [UInt8]? {
        guard let s = value?.stringValue else { return nil }
        return Base64URL.decode(s)
    }

    /// A base64url big-endian unsigned integer without its leading zero bytes; nil when absent or zero.
    private static func decodedInteger(_ value: JSONValue?) -> [UInt8]? {
        guard let bytes = decoded(value), let first = bytes.firstIndex(where: { $0 != 0 }) else { return nil }
        return Array(bytes[first...])
    }

    /// Bits in a big-endian integer whose first byte is non-zero.
    static func bitLength(_ bytes: [UInt8]) -> Int {
        guard let first = bytes.first else { return 0 }
        return (bytes.count - 1) * 8 + (8 - first.leadingZeroBitCount)
    }
}
