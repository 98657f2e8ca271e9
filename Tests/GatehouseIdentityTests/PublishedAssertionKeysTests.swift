import Crypto
import Foundation
import GatehouseCore
import Testing

@testable import GatehouseIdentity

/// `/.gatehouse/jwks.json` publishes this replica's keys and the other replicas': an assertion
/// signed by one replica verifies with any replica's key set, and no stored row can put
/// something other than a P-256 key into it.
@Suite struct PublishedAssertionKeysTests {
    static func peer(_ kid: String) -> (key: PublicAssertionKey, signing: P256.Signing.PrivateKey) {
        let signing = P256.Signing.PrivateKey()
        return (PublicAssertionKey(kid: kid, x963: Array(signing.publicKey.x963Representation))!, signing)
    }

    static func kids(_ document: [UInt8]) throws -> [String] {
        try #require(try JSONParser.parse(document)["keys"]?.arrayValue).compactMap { $0["kid"]?.stringValue }
    }

    @Test func anotherReplicasAssertionVerifiesWithThisReplicasKeySet() async throws {
        let dir = try AssertionSignerTests.tempKeyDir()
        defer { try? FileManager.default.removeItem(atPath: dir.root) }
        let clock = TestClock()
        let mine = try AssertionSigner(keyDirectory: dir.keys, issuer: "gatehouse", ttlSeconds: 60, clock: clock.now)
        let theirs = try AssertionSigner(keyDirectory: dir.root + "/other/keys", issuer: "gatehouse", ttlSeconds: 60, clock: clock.now)
        #expect(mine.signingKeyID != theirs.signingKeyID)
        mine.keys.setPeers(theirs.keys.own)

        let fetcher = StubFetcher()
        fetcher.serve("https://replica-a.local/jwks", mine.jwksDocument)
        let keySets = KeySetCache(settings: IdentitySettings(), fetcher: fetcher, clock: clock.now, metrics: nil, logger: Std.logger)
        let verifier = TokenVerifier(settings: IdentitySettings(), keySets: keySets, clock: clock.now)
        let idp = IdentityProvider(name: "gatehouse", issuer: "gatehouse", jwksURI: "https://replica-a.local/jwks", algorithms: [.ES256])
        let verified = try await verifier.verify(theirs.sign(AssertionSignerTests.principal), tenant: Std.tenant, idp: idp)
        #expect(verified.subject == "user-1")
        #expect(try Self.kids(mine.jwksDocument) == [mine.signingKeyID, theirs.signingKeyID], "own keys first")
    }

    @Test func peersAreReplacedAsAWholeAndOwnKidsAreNeverShadowed() throws {
        let own = Self.peer("1700000005-own")
        let keys = PublishedAssertionKeys(own: [own.key])
        let a = Self.peer("1700000001-a")
        let b = Self.peer("1700000002-b")
        keys.setPeers([a.key, b.key, a.key])
        #expect(try Self.kids(keys.document) == ["1700000005-own", "1700000002-b", "1700000001-a"], "newest kid first, once each")
        // A row claiming this replica's kid with another key is not published over the own key.
        let impostor = Self.peer("1700000005-own")
        keys.setPeers([impostor.key, b.key])
        let published = try #require(try JSONParser.parse(keys.document)["keys"]?.arrayValue)
        #expect(published.count == 2)
        #expect(published.first?["x"]?.stringValue == Base64URL.encode(own.key.x963[1..<33]))
        keys.setPeers([])
        #expect(try Self.kids(keys.document) == ["1700000005-own"], "a peer whose key expired is withdrawn")
        #expect(keys.peers.isEmpty)
    }

    @Test func onlyAValidKidAndAPointOnP256MakeAKey() {
        let good = Array(P256.Signing.PrivateKey().publicKey.x963Representation)
        #expect(PublicAssertionKey(kid: "1700000000-0a1b2c3d", x963: good) != nil)
        var offCurve = good
        offCurve[64] ^= 0x01
        let rejected: [(String, [UInt8])] = [
            ("", good), (String(repeating: "k", count: 129), good), ("with space", good), ("é", good), ("tab\t", good),
            ("k", Array(good.dropLast())), ("k", good + [0]), ("k", [0x02] + good.dropFirst()), ("k", offCurve), ("k", []),
            ("k", Array(repeating: 0, count: 65)),
        ]
        for (kid, bytes) in rejected {
            #expect(PublicAssertionKey(kid: kid, x963: bytes) == nil, "\(kid.prefix(10)) \(bytes.count)")
        }
        // A quote is visible ASCII: allowed, and escaped in the JSON like anything else.
        let quoted = PublicAssertionKey(kid: "quote\"", x963: good)
        #expect(quoted != nil)
        let keys = PublishedAssertionKeys(own: [])
        keys.setPeers([quoted!])
        #expect((try? JSONParser.parse(keys.document)) != nil)
    }
}
