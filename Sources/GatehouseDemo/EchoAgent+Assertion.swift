import Crypto
import GatehouseCore
import GatehouseHTTP
import Synchronization

/// What the agent made of `X-Gatehouse-Assertion`.
public struct AssertionCheck: Sendable, Hashable {
    public var present: Bool
    public var verified: Bool
    /// Why verification failed (or was not attempted).
    public var error: String?
    /// The payload when it could be decoded (even when not verified, for diagnosis).
    public var claims: [String: JSONValue]?

    public static let absent = AssertionCheck(present: false, verified: false, error: nil, claims: nil)

    var json: JSONValue {
        var o: [String: JSONValue] = ["present": .bool(present), "verified": .bool(verified)]
        if let error { o["error"] = .string(error) }
        if let claims { o["claims"] = .object(claims) }
        return .object(o)
    }
}

/// Verifies ES256 assertions the way an agent would: only with keys fetched from the
/// configured key-set URL, checking `iss` and `exp`. Written independently of Gatehouse's own
/// signer on purpose, so that the demo proves the assertion is standard.
final class AssertionVerifier: Sendable {
    private let client: HTTPClient
    /// Keys by kid, per key-set URL.
    private let cache = Mutex<[String: [String: P256Box]]>([:])

    init(client: HTTPClient) {
        self.client = client
    }

    func check(_ token: String?, jwksURL: String?, issuer: String, now: Double) async -> AssertionCheck {
        guard let token else { return .absent }
        var check = AssertionCheck(present: true, verified: false, error: nil, claims: nil)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]), let payloadBytes = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2]),
            let header = (try? JSONParser.parse(headerBytes))?.objectValue,
            let claims = (try? JSONParser.parse(payloadBytes))?.objectValue
        else {
            check.error = "malformed"
            return check
        }
        check.claims = claims
        guard let jwksURL else {
            check.error = "no key-set URL configured"
            return check
        }
        guard header["alg"] == .string("ES256"), let kid = header["kid"]?.stringValue else {
            check.error = "alg must be ES256 with a kid"
            return check
        }
        guard let key = await key(kid, from: jwksURL) else {
            check.error = "unknown kid"
            return check
        }
        let signingInput = Array(token.utf8[..<parts[1].endIndex])
        guard let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature),
            key.key.isValidSignature(ecdsa, for: signingInput)
        else {
            check.error = "bad signature"
            return check
        }
        guard claims["iss"] == .string(issuer) else {
            check.error = "wrong issuer"
            return check
        }
        guard let exp = claims["exp"]?.doubleValue, exp > now else {
            check.error = "expired or no exp"
            return check
        }
        check.verified = true
        return check
    }

    /// From the cache, else after one fetch of the key set (a key rotated in is picked up).
    private func key(_ kid: String, from url: String) async -> P256Box? {
        if let cached = cache.withLock({ $0[url]?[kid] }) { return cached }
        guard let response = try? await client.get(url: url), response.statusCode == 200,
            let keys = (try? response.json())?["keys"]?.arrayValue
        else { return nil }
        var parsed: [String: P256Box] = [:]
        for jwk in keys {
            guard jwk["kty"] == .string("EC"), jwk["crv"] == .string("P-256"), let id = jwk["kid"]?.stringValue,
                let x = jwk["x"]?.stringValue.flatMap(Base64URL.decode), let y = jwk["y"]?.stringValue.flatMap(Base64URL.decode),
                x.count == 32, y.count == 32, let key = try? P256.Signing.PublicKey(rawRepresentation: x + y)
            else { continue }
            parsed[id] = P256Box(key: key)
        }
        cache.withLock { $0[url] = parsed }
        return parsed[kid]
    }
}

/// `@unchecked`: P256 public keys are immutable values, but swift-crypto does not mark them
/// `Sendable` on every platform.
struct P256Box: @unchecked Sendable {
    let key: P256.Signing.PublicKey
}
