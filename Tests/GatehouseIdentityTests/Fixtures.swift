import Crypto
import Foundation
import GatehouseCore
import Logging
import Synchronization
import _CryptoExtras

@testable import GatehouseIdentity

// MARK: - JSON literals, so test tokens read like JSON

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(floatLiteral value: Double) { self = .number(String(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
}

// MARK: - Keys (generated once per test process: RSA generation is slow)

enum TestKeys {
    // swift-crypto does not mark these key types Sendable; they are immutable after creation.
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let rsa2 = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let rsa1024 = try! _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
    nonisolated(unsafe) static let p256 = P256.Signing.PrivateKey()
    nonisolated(unsafe) static let p384 = P384.Signing.PrivateKey()
    nonisolated(unsafe) static let ed25519 = Curve25519.Signing.PrivateKey()
    /// An attacker's keys: well-formed, never in any IdP's set.
    nonisolated(unsafe) static let attackerP256 = P256.Signing.PrivateKey()

    static func jwk(_ key: _RSA.Signing.PrivateKey, kid: String?, extra: [String: JSONValue] = [:]) -> JSONValue {
        let primitives = try! key.publicKey.getKeyPrimitives()
        var members: [String: JSONValue] = [
            "kty": "RSA", "n": .string(Base64URL.encode(Array(primitives.modulus))),
            "e": .string(Base64URL.encode(Array(primitives.publicExponent))),
        ]
        if let kid { members["kid"] = .string(kid) }
        return .object(members.merging(extra) { $1 })
    }

    static func jwk(_ key: P256.Signing.PrivateKey, kid: String?, extra: [String: JSONValue] = [:]) -> JSONValue {
        ecJWK(Array(key.publicKey.x963Representation), crv: "P-256", kid: kid, extra: extra)
    }

    static func jwk(_ key: P384.Signing.PrivateKey, kid: String?, extra: [String: JSONValue] = [:]) -> JSONValue {
        ecJWK(Array(key.publicKey.x963Representation), crv: "P-384", kid: kid, extra: extra)
    }

    static func jwk(_ key: Curve25519.Signing.PrivateKey, kid: String?, extra: [String: JSONValue] = [:]) -> JSONValue {
        var members: [String: JSONValue] = ["kty": "OKP", "crv": "Ed25519", "x": .string(Base64URL.encode(Array(key.publicKey.rawRepresentation)))]
        if let kid { members["kid"] = .string(kid) }
        return .object(members.merging(extra) { $1 })
    }

    private static func ecJWK(_ point: [UInt8], crv: String, kid: String?, extra: [String: JSONValue]) -> JSONValue {
        let size = (point.count - 1) / 2
        var members: [String: JSONValue] = [
            "kty": "EC", "crv": .string(crv), "x": .string(Base64URL.encode(point[1...size])),
            "y": .string(Base64URL.encode(point[(size + 1)...])),
        ]
        if let kid { members["kid"] = .string(kid) }
        return .object(members.merging(extra) { $1 })
    }

    /// The standard IdP's key set: one key of each type.
    static var standardJWKs: [JSONValue] {
        [jwk(rsa, kid: "rsa1"), jwk(p256, kid: "ec1"), jwk(p384, kid: "ec384"), jwk(ed25519, kid: "ed1")]
    }

    static func document(_ keys: [JSONValue]) -> [UInt8] {
        Array(JSONValue.object(["keys": .array(keys)]).compactText.utf8)
    }
}

// MARK: - Token signing

enum TestSigner {
    case rsa(_RSA.Signing.PrivateKey, pss: Bool, hash: Int)
    case p256(P256.Signing.PrivateKey)
    case p384(P384.Signing.PrivateKey)
    case ed25519(Curve25519.Signing.PrivateKey)
    case hmac(key: [UInt8])
    case raw([UInt8])

    func sign(_ input: [UInt8]) -> [UInt8] {
        switch self {
        case .rsa(let key, let pss, let hash):
            let padding: _RSA.Signing.Padding = pss ? .PSS : .insecurePKCS1v1_5
            switch hash {
            case 384: return Array(try! key.signature(for: SHA384.hash(data: input), padding: padding).rawRepresentation)
            case 512: return Array(try! key.signature(for: SHA512.hash(data: input), padding: padding).rawRepresentation)
            default: return Array(try! key.signature(for: SHA256.hash(data: input), padding: padding).rawRepresentation)
            }
        case .p256(let key): return Array(try! key.signature(for: SHA256.hash(data: input)).rawRepresentation)
        case .p384(let key): return Array(try! key.signature(for: SHA384.hash(data: input)).rawRepresentation)
        case .ed25519(let key): return Array(try! key.signature(for: input))
        case .hmac(let secret):
            return Array(HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: secret)))
        case .raw(let bytes): return bytes
        }
    }

    /// The standard key for an algorithm, with its kid in the standard set.
    static func standard(_ alg: JWSAlgorithm) -> (TestSigner, kid: String) {
        switch alg {
        case .RS256: return (.rsa(TestKeys.rsa, pss: false, hash: 256), "rsa1")
        case .RS384: return (.rsa(TestKeys.rsa, pss: false, hash: 384), "rsa1")
        case .RS512: return (.rsa(TestKeys.rsa, pss: false, hash: 512), "rsa1")
        case .PS256: return (.rsa(TestKeys.rsa, pss: true, hash: 256), "rsa1")
        case .PS384: return (.rsa(TestKeys.rsa, pss: true, hash: 384), "rsa1")
        case .PS512: return (.rsa(TestKeys.rsa, pss: true, hash: 512), "rsa1")
        case .ES256: return (.p256(TestKeys.p256), "ec1")
        case .ES384: return (.p384(TestKeys.p384), "ec384")
        case .EdDSA: return (.ed25519(TestKeys.ed25519), "ed1")
        }
    }
}

enum TestToken {
    static func make(rawHeader: String, rawPayload: String, signer: TestSigner) -> String {
        let input = Base64URL.encode(rawHeader) + "." + Base64URL.encode(rawPayload)
        return input + "." + Base64URL.encode(signer.sign(Array(input.utf8)))
    }

    static func make(header: JSONValue, payload: JSONValue, signer: TestSigner) -> String {
        make(rawHeader: header.compactText, rawPayload: payload.compactText, signer: signer)
    }
}

// MARK: - Clock and fetcher

final class TestClock: Sendable {
    private let value: Mutex<Double>
    init(_ start: Double = 1_700_000_000) { value = Mutex(start) }
    var now: WallClock { { self.value.withLock { $0 } } }
    var seconds: Double { value.withLock { $0 } }
    func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
}

/// An in-memory IdP: answers per URL, counts calls, can fail or hold every call until released.
final class StubFetcher: DocumentFetcher {
    enum Answer: Sendable {
        case document(FetchedDocument)
        case failure
    }

    struct StubError: Error {}

    private struct State {
        var answers: [String: Answer] = [:]
        var calls: [String: Int] = [:]
        var holding = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func serve(_ url: String, _ body: [UInt8], status: Int = 200, maxAge: Int? = nil) {
        state.withLock { $0.answers[url] = .document(FetchedDocument(status: status, body: body, cacheControlMaxAge: maxAge)) }
    }

    func serveKeys(_ url: String, _ keys: [JSONValue], maxAge: Int? = nil) {
        serve(url, TestKeys.document(keys), maxAge: maxAge)
    }

    func fail(_ url: String) { state.withLock { $0.answers[url] = .failure } }

    func calls(_ url: String) -> Int { state.withLock { $0.calls[url] ?? 0 } }
    var totalCalls: Int { state.withLock { $0.calls.values.reduce(0, +) } }
    var waitingCount: Int { state.withLock { $0.waiting.count } }

    /// From now on every call waits until `release()`.
    func hold() { state.withLock { $0.holding = true } }

    func release() {
        let waiting = state.withLock { state in
            state.holding = false
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Lets the longest-held call go on; later calls are still held.
    func releaseOne() {
        let first = state.withLock { $0.waiting.isEmpty ? nil : $0.waiting.removeFirst() }
        first?.resume()
    }

    func get(_ url: String) async throws -> FetchedDocument {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let wait = state.withLock { state in
                state.calls[url, default: 0] += 1
                if state.holding { state.waiting.append(continuation) }
                return state.holding
            }
            if !wait { continuation.resume() }
        }
        switch state.withLock({ $0.answers[url] }) {
        case .document(let document): return document
        case .failure, nil: throw StubError()
        }
    }
}

/// Waits (bounded) for a condition that another task makes true.
func eventually(_ timeoutSeconds: Double = 15, _ condition: () -> Bool) async -> Bool {
    let deadline = monotonicSeconds() + timeoutSeconds
    while !condition() {
        if monotonicSeconds() > deadline { return false }
        try? await Task.sleep(nanoseconds: 1_000_000)
    }
    return true
}

// MARK: - A standard world: one tenant, one IdP, its key set

enum Std {
    static let issuer = "https://idp.example.com"
    static let jwksURL = "https://idp.example.com/jwks"
    static let tenant = TenantID("acme")!

    static func idp(
        name: String = "main", issuer: String = Std.issuer, jwksURI: String? = Std.jwksURL, audiences: [String] = ["api"],
        clients: [String] = [], scopes: [String] = [], tokenUse: String? = nil,
        algorithms: [JWSAlgorithm] = JWSAlgorithm.allCases, claims: [ClaimRule] = [], discoveryURL: String? = nil
    ) -> IdentityProvider {
        IdentityProvider(
            name: name, issuer: issuer, discoveryURL: discoveryURL, jwksURI: jwksURI, allowedClients: clients,
            allowedAudiences: audiences, requiredScopes: scopes, tokenUse: tokenUse, algorithms: algorithms, claims: claims)
    }

    static func tenant(_ id: String, idps: [IdentityProvider]) -> Tenant {
        Tenant(id: TenantID(id)!, displayName: id, idps: idps, upstreams: [Upstream(url: "http://127.0.0.1:7001")!])
    }

    static func snapshot(_ tenants: [Tenant], settings: GatehouseSettings = GatehouseSettings()) -> ConfigSnapshot {
        ConfigSnapshot(settings: settings, tenants: tenants)
    }

    static func claims(_ now: Double, _ overrides: [String: JSONValue?] = [:]) -> JSONValue {
        var members: [String: JSONValue] = [
            "iss": .string(issuer), "sub": "user-1", "aud": "api",
            "exp": .number(String(Int(now) + 300)), "iat": .number(String(Int(now))),
        ]
        for (k, v) in overrides { members[k] = v }
        return .object(members)
    }

    static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }
}

/// A verifier wired to a stub IdP serving the standard keys.
struct VerifierWorld {
    let clock = TestClock()
    let fetcher = StubFetcher()
    let metrics = GatehouseMetrics()
    let settings: IdentitySettings
    let keySets: KeySetCache
    let verifier: TokenVerifier

    init(keys: [JSONValue] = TestKeys.standardJWKs, settings: IdentitySettings = IdentitySettings()) {
        self.settings = settings
        fetcher.serveKeys(Std.jwksURL, keys)
        keySets = KeySetCache(settings: settings, fetcher: fetcher, clock: clock.now, metrics: metrics, logger: Std.logger)
        verifier = TokenVerifier(settings: settings, keySets: keySets, clock: clock.now)
    }

    var now: Double { clock.seconds }

    /// A token signed with the standard key for `alg`.
    func token(_ alg: JWSAlgorithm = .RS256, header: [String: JSONValue?] = [:], claims: [String: JSONValue?] = [:]) -> String {
        let (signer, kid) = TestSigner.standard(alg)
        var h: [String: JSONValue] = ["alg": .string(alg.rawValue), "kid": .string(kid), "typ": "JWT"]
        for (k, v) in header { h[k] = v }
        return TestToken.make(header: .object(h), payload: Std.claims(now, claims), signer: signer)
    }

    func verify(_ token: String, idp: IdentityProvider = Std.idp()) async throws(AuthError) -> Principal {
        try await verifier.verify(token, tenant: Std.tenant, idp: idp)
    }

    /// The refusal of `token`, or nil when it verified.
    func refusal(_ token: String, idp: IdentityProvider = Std.idp()) async -> AuthError? {
        do {
            _ = try await verify(token, idp: idp)
            return nil
        } catch {
            return error
        }
    }
}
