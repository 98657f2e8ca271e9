import Crypto
import GatehouseCore
import Synchronization

/// Signs the short-lived identity assertion Gatehouse adds for upstreams (`assertion` in
/// `gatehouse.yaml`), with this replica's own ES256 keys: the newest key signs, every key is
/// published, so a new key can be dropped into the directory and old assertions still verify
/// until the old key is removed. The key set also publishes the other replicas' keys (`keys`).
public final class AssertionSigner: Sendable {
    private let issuer: String
    /// Live: `assertion.ttl_seconds` changes on reload (`update(ttlSeconds:)`).
    private let liveTTL: LiveValue<Int>
    private var ttlSeconds: Int { liveTTL.value }
    private let clock: WallClock
    private let signingKey: CryptoKeyBox<P256.Signing.PrivateKey>
    /// The `kid` of the key that signs.
    public let signingKeyID: String
    /// What `/.gatehouse/jwks.json` publishes: this replica's keys and the other replicas'.
    public let keys: PublishedAssertionKeys

    /// `{"keys":[...]}`: this replica's public keys, newest first, then the other replicas'.
    public var jwksDocument: [UInt8] { keys.document }

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
        self.liveTTL = LiveValue(ttlSeconds)
        self.clock = clock
        self.signingKey = CryptoKeyBox(newest.key)
        self.signingKeyID = newest.kid
        self.keys = PublishedAssertionKeys(own: keys.reversed().map { PublicAssertionKey(kid: $0.kid, key: $0.key.publicKey) })
    }

    /// A new lifetime for assertions signed from now on (a reload of `gatehouse.yaml`).
    public func update(ttlSeconds: Int) { liveTTL.set(ttlSeconds) }

    /// The assertion for `principal`: a fresh one, or the one signed for the same identity (tenant,
    /// IdP, issuer, subject, client, scopes) less than half its lifetime ago, so an upstream always
    /// gets at least `ttlSeconds / 2` of validity. Signing costs a P-256 signature (tens of
    /// microseconds); a caller making many requests pays it about once per half-lifetime.
    /// A reused assertion keeps its `jti`: it names the assertion, not the request
    /// (`X-Request-Id` does that).
    public func assertion(for principal: Principal) -> String {
        reusableAssertion(for: principal).token
    }

    /// `assertion(for:)` and until when (wall-clock seconds) it may be reused, for a caller that
    /// keeps it itself.
    public func reusableAssertion(for principal: Principal) -> (token: String, reuseUntil: Double) {
        let key = ReuseKey(principal)
        let now = clock()
        let shard = reuse[Int(UInt(bitPattern: key.hashValue) % UInt(reuse.count))]
        if let hit = shard.entries.withLock({ $0[key] }), now < hit.reuseUntil, now >= hit.issuedAt { return (hit.token, hit.reuseUntil) }
        let iat = now.rounded(.down)
        let token = sign(principal, issuedAt: Int64(iat))
        let until = iat + Double(ttlSeconds) / 2
        shard.entries.withLock { entries in
            if entries.count >= Self.reuseEntriesPerShard { entries.removeAll(keepingCapacity: true) }
            entries[key] = (token, iat, until)
        }
        return (token, until)
    }

    struct ReuseKey: Hashable, Sendable {
        var tenant: TenantID
        var idp: String
        var issuer: String
        var subject: String
        var clientID: String?
        var scopes: [String]

        init(_ p: Principal) {
            (tenant, idp, issuer, subject, clientID, scopes) = (p.tenant, p.idp, p.issuer, p.subject, p.clientID, p.scopes)
        }
    }

    private static let reuseEntriesPerShard = 4096
    final class ReuseShard: Sendable {
        let entries = Mutex<[ReuseKey: (token: String, issuedAt: Double, reuseUntil: Double)]>([:])
    }
    private let reuse: [ReuseShard] = (0..<16).map { _ in ReuseShard() }

    /// A compact ES256 JWT for `principal`, valid for `ttlSeconds`, always freshly signed.
    public func sign(_ principal: Principal) -> String {
        sign(principal, issuedAt: Int64(clock().rounded(.down)))
    }

    private func sign(_ principal: Principal, issuedAt iat: Int64) -> String {
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
