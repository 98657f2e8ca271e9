import Crypto
import Foundation
import GatehouseCore
import Synchronization
import Testing

@testable import GatehouseIdentity

@Suite("Assertion signer")
struct AssertionSignerTests {
    /// A fresh directory path (not created) under a fresh temporary directory.
    static func tempKeyDir() throws -> (root: String, keys: String) {
        var template = Array((NSTemporaryDirectory() + "/gatehouse-signer-XXXXXX").utf8CString)
        let root = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        return (root, root + "/nested/keys")
    }

    static func mode(_ path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0
    }

    static let principal = Principal(
        tenant: TenantID("acme")!, idp: "cognito", issuer: "https://idp.example.com", subject: "user-1", clientID: "c1",
        scopes: ["read", "write"], claims: [:], expiresAt: 1_700_000_300)

    @Test("creates the key directory (0700) and one key file (0600)")
    func createsKey() throws {
        let dir = try Self.tempKeyDir()
        defer { try? FileManager.default.removeItem(atPath: dir.root) }
        let signer = try AssertionSigner(keyDirectory: dir.keys, issuer: "gatehouse", ttlSeconds: 60, clock: TestClock().now)
        #expect(Self.mode(dir.keys) == 0o700)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.keys)
        #expect(files == [signer.signingKeyID + ".pem"])
        #expect(Self.mode(dir.keys + "/" + files[0]) == 0o600)
        #expect(signer.signingKeyID.hasPrefix("1700000000-"))
        let pem = try String(contentsOfFile: dir.keys + "/" + files[0], encoding: .utf8)
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----"))
    }

    @Test("the assertion verifies with the published key and carries the claims")
    func signatureAndClaims() throws {
        let dir = try Self.tempKeyDir()
        defer { try? FileManager.default.removeItem(atPath: dir.root) }
        let clock = TestClock()
        let signer = try AssertionSigner(keyDirectory: dir.keys, issuer: "gatehouse", ttlSeconds: 60, clock: clock.now)
        let token = signer.sign(Self.principal)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        try #require(parts.count == 3)

        let header = try JSONParser.parse(try #require(Base64URL.decode(parts[0])))
        #expect(header == ["alg": "ES256", "typ": "JWT", "kid": .string(signer.signingKeyID)])

        // Verify with Crypto directly, from the published JWKS.
        let jwks = try JSONParser.parse(signer.jwksDocument)
        let keys = try #require(jwks["keys"]?.arrayValue)
        #expect(keys.count == 1)
        let jwk = try #require(keys.first)
        #expect(jwk["kty"] == "EC")
        #expect(jwk["crv"] == "P-256")
        #expect(jwk["alg"] == "ES256")
        #expect(jwk["use"] == "sig")
        #expect(jwk["kid"] == .string(signer.signingKeyID))
        let x = try #require(jwk["x"]?.stringValue.flatMap(Base64URL.decode))
        let y = try #require(jwk["y"]?.stringValue.flatMap(Base64URL.decode))
        let publicKey = try P256.Signing.PublicKey(x963Representation: [0x04] + x + y)
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: try #require(Base64URL.decode(parts[2])))
        let input = Array("\(parts[0]).\(parts[1])".utf8)
        #expect(publicKey.isValidSignature(signature, for: SHA256.hash(data: input)))
        #expect(!publicKey.isValidSignature(signature, for: SHA256.hash(data: input + [0])))

        let claims = try JSONParser.parse(try #require(Base64URL.decode(parts[1])))
        #expect(claims["iss"] == "gatehouse")
        #expect(claims["sub"] == "user-1")
        #expect(claims["tenant"] == "acme")
        #expect(claims["idp"] == "cognito")
        #expect(claims["client_id"] == "c1")
        #expect(claims["scope"] == "read write")
        #expect(claims["iat"] == 1_700_000_000)
        #expect(claims["exp"] == 1_700_000_060)
        let jti = try #require(claims["jti"]?.stringValue)
        #expect(Base64URL.decode(jti)?.count == 16)
        #expect(signer.sign(Self.principal) != token, "jti differs per assertion")

        // Optional claims are left out when empty.
        var bare = Self.principal
        bare.clientID = nil
        bare.scopes = []
        let bareClaims = try JSONParser.parse(try #require(Base64URL.decode(signer.sign(bare).split(separator: ".")[1])))
        #expect(bareClaims["client_id"] == nil)
        #expect(bareClaims["scope"] == nil)
    }

    @Test("Gatehouse's own verifier accepts the assertion from the published key set")
    func roundTrip() async throws {
        let dir = try Self.tempKeyDir()
        defer { try? FileManager.default.removeItem(atPath: dir.root) }
        let clock = TestClock()
        let signer = try AssertionSigner(keyDirectory: dir.keys, issuer: "gatehouse", ttlSeconds: 60, clock: clock.now)
        let fetcher = StubFetcher()
        fetcher.serve("https://gatehouse.local/jwks", signer.jwksDocument)
        let keySets = KeySetCache(settings: IdentitySettings(), fetcher: fetcher, clock: clock.now, metrics: nil, logger: Std.logger)
        let verifier = TokenVerifier(settings: IdentitySettings(), keySets: keySets, clock: clock.now)
        let idp = IdentityProvider(name: "gatehouse", issuer: "gatehouse", jwksURI: "https://gatehouse.local/jwks", algorithms: [.ES256])
        let verified = try await verifier.verify(signer.sign(Self.principal), tenant: Std.tenant, idp: idp)
        #expect(verified.subject == "user-1")
        #expect(verified.clientID == "c1")
        #expect(verified.scopes == ["read", "write"])
    }

    @Test("an assertion is reused for the same identity for half its lifetime, never past it")
    func reuseWindow() throws {
        let dir = try Self.tempKeyDir()
        defer { try? FileManager.default.removeItem(atPath: dir.root) }
        let clock = TestClock()
        let signer = try AssertionSigner(keyDirectory: dir.keys, issuer: "gatehouse", ttlSeconds: 60, clock: clock.now)
        let first = signer.assertion(for: Self.principal)
        clock.advance(29)
        #expect(signer.assertion(for: Self.principal) == first, "reused within ttl/2")
        var other = Self.principal
        other.subject = "user-2"
        #expect(signer.assertion(for: other) != first, "another subject never gets it")
        var narrower = Self.principal
        narrower.scopes = ["read"]
        #expect(signer.assertion(for: narrower) != first, "other scopes never get it")
        var otherTenant = Self.principal
        otherTenant.tenant = TenantID("globex")!
        #expect(signer.assertion(for: otherTenant) != first)
        clock.advance(1)
        let second = signer.assertion(for: Self.principal)
        #expect(second != first, "re-signed once half the lifetime has passed")
        let claims = try JSONParser.parse(try #require(Base64URL.decode(second.split(separator: ".")[1])))
        #expect(claims["iat"] == .number("1700000030"))
        #expect(claims["exp"] == .number("1700000090"))
        // A clock that goes backwards does not serve an assertion from the future.
        clock.advance(-20)
        #expect(signer.assertion(for: Self.principal) != second)
    }

    @Test("a second signer on the same directory reuses the key")
    func reusesKey() throws {
        let dir = try Self.tempKeyDir()
        defer { try? FileManager.default.removeItem(atPath: dir.root) }
        let first = try AssertionSigner(keyDirectory: dir.keys, issuer: "gatehouse", ttlSeconds: 60, clock: TestClock().now)
        let later = TestClock(1_800_000_000)
        let second = try AssertionSigner(keyDirectory: dir.keys, issuer: "gatehouse", ttlSeconds: 60, clock: later.now)
        #expect(second.signingKeyID == first.signingKeyID)
        #expect(second.jwksDocument == first.jwksDocument)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.keys).count == 1)
    }

    @Test("signers starting together on one empty directory make one key between them")
    func oneKeyForConcurrentStarts() throws {
        let dir = try Self.tempKeyDir()
        defer { try? FileManager.default.removeItem(atPath: dir.root) }
        try FileManager.default.createDirectory(atPath: dir.keys, withIntermediateDirectories: true)
        let kids = Mutex<[String]>([])
        let keyDir = dir.keys
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            let kid = try? AssertionSigner(keyDirectory: keyDir, issuer: "gatehouse", ttlSeconds: 60, clock: TestClock().now).signingKeyID
            kids.withLock { $0.append(kid ?? "failed") }
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.keys).filter { $0.hasSuffix(".pem") }
        #expect(files.count == 1)
        #expect(Set(kids.withLock { $0 }) == Set(files.map { String($0.dropLast(4)) }))
    }

    @Test("the newest key signs; all keys are published")
    func newestSigns() throws {
        let dir = try Self.tempKeyDir()
        defer { try? FileManager.default.removeItem(atPath: dir.root) }
        let old = try AssertionSigner(keyDirectory: dir.keys, issuer: "gatehouse", ttlSeconds: 60, clock: TestClock().now)
        let newKID = "1800000000-0000beef"
        let newKey = P256.Signing.PrivateKey()
        try newKey.pemRepresentation.write(toFile: dir.keys + "/" + newKID + ".pem", atomically: true, encoding: .utf8)
        let signer = try AssertionSigner(keyDirectory: dir.keys, issuer: "gatehouse", ttlSeconds: 60, clock: TestClock().now)
        #expect(signer.signingKeyID == newKID)
        let kids = try JSONParser.parse(signer.jwksDocument)["keys"]?.arrayValue?.compactMap { $0["kid"]?.stringValue }
        #expect(kids == [newKID, old.signingKeyID])
    }

    @Test("a key file that is not a P-256 key stops start-up")
    func badKeyFile() throws {
        let dir = try Self.tempKeyDir()
        defer { try? FileManager.default.removeItem(atPath: dir.root) }
        try FileManager.default.createDirectory(atPath: dir.keys, withIntermediateDirectories: true)
        try "not a key".write(toFile: dir.keys + "/1700000000-00000000.pem", atomically: true, encoding: .utf8)
        #expect(throws: AssertionSigner.Failure.self) {
            try AssertionSigner(keyDirectory: dir.keys, issuer: "gatehouse", ttlSeconds: 60, clock: TestClock().now)
        }
    }
}
