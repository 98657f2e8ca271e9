import Crypto
import GatehouseCore

/// Signs the short-lived identity assertion Gatehouse adds for upstreams (DESIGN 2.1 `assertion`),
/// with its own ES256 keys: the newest key signs, every key is published, so a new key can be
/// dropped into the directory and old assertions still verify until the old key is removed.
public final class AssertionSigner: Sendable {
    private let issuer: String
    private let ttlSeconds: Int
    private let clock: WallClock
    private let signingKey: CryptoKeyBox<P256.Signing.PrivateKey>
    /// The `kid` of the key that signs.
    public let signingKeyID: String
    /// `{"keys":[...]}` with every public key, newest first.
    public let jwksDocument: [UInt8]

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Loads the keys in `keyDirectory`, creating the directory (mode 0700) and a first key
    /// (file mode 0600) if there is none.
    public init(keyDirectory: String, issuer: String, ttlSeconds: Int, clock: @escaping WallClock) throws {
        let keys: [AssertionKeyStore.StoredKey]
        do {
            keys = try AssertionKeyStore.loadOrCreate(directory: keyDirectory, now: clock())
        } catch {
            throw Failure(description: error.description)
        }
        guard let newest = keys.last else { throw Failure(description: "no assertion key in \(keyDirectory)") }
        self.issuer = issuer
        self.ttlSeconds = ttlSeconds
        self.clock = clock
        self.signingKey = CryptoKeyBox(newest.key)
        self.signingKeyID = newest.kid
        let published: [JSONValue] = keys.reversed().map { stored in
            let point = Array(stored.key.publicKey.x963Representation)  // 0x04 || x || y
            return .object([
                "kty": .string("EC"), "crv": .string("P-256"),
                "x": .string(Base64URL.encode(point[1..<33])), "y": .string(Base64URL.encode(point[33..<65])),
                "kid": .string(stored.kid), "alg": .string("ES256"), "use": .string("sig"),
            ])
        }
        self.jwksDocument = Array(JSONValue.object(["keys": .array(published)]).compactText.utf8)
    }

    /// A compact ES256 JWT for `principal`, valid for `ttlSeconds`.
    public func sign(_ principal: Principal) -> String {
        let iat = Int64(clock().rounded(.down))
        var claims: [String: JSONValue] = [
            "iss": .string(issuer),
            "sub": .string(principal.subject),
            "tenant": .string(principal.tenant.rawValue),
            "idp": .string(principal.idp),
            "iat": .number(String(iat)),
            "exp": .number(String(iat + Int64(ttlSeconds))),
            "jti": .string(Self.randomID()),
        ]
        if let clientID = principal.clientID { claims["client_id"] = .string(clientID) }
        if !principal.scopes.isEmpty { claims["scope"] = .string(principal.scopes.joined(separator: " ")) }
        let header = JSONValue.object(["alg": .string("ES256"), "typ": .string("JWT"), "kid": .string(signingKeyID)])
        let signingInput = Base64URL.encode(header.compactText) + "." + Base64URL.encode(JSONValue.object(claims).compactText)
        // Signing with a valid in-memory key does not fail in practice; if it ever did, an empty
        // signature makes an assertion no agent accepts, which is the safe outcome.
        let signature = (try? signingKey.key.signature(for: SHA256.hash(data: Array(signingInput.utf8))))?.rawRepresentation
        return signingInput + "." + Base64URL.encode(signature.map { Array($0) } ?? [])
    }

    private static func randomID() -> String {
        var random = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for _ in 0..<2 {
            let word = random.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return Base64URL.encode(bytes)
    }
}
