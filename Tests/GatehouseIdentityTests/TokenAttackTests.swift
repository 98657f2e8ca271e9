import Crypto
import GatehouseCore
import Testing
import _CryptoExtras

@testable import GatehouseIdentity

@Suite("Token verification: attack tokens are refused")
struct TokenAttackTests {
    @Test("alg none with an empty signature")
    func algNone() async {
        let world = VerifierWorld()
        for alg in ["none", "None", "NONE"] {
            let token = TestToken.make(header: ["alg": .string(alg), "kid": "rsa1"], payload: Std.claims(world.now), signer: .raw([]))
            #expect(token.hasSuffix("."))
            #expect(await world.refusal(token)?.reason == "algorithm")
        }
    }

    @Test("HS256 signed with the RSA public key as the HMAC secret")
    func hmacKeyConfusion() async throws {
        let world = VerifierWorld()
        let publicKey = TestKeys.rsa.publicKey
        let secrets: [[UInt8]] = [
            Array(try publicKey.getKeyPrimitives().modulus),
            Array(publicKey.pemRepresentation.utf8),
            Array(publicKey.pkcs1PEMRepresentation.utf8),
            Array(publicKey.derRepresentation),
            Array(TestKeys.document([TestKeys.jwk(TestKeys.rsa, kid: "rsa1")])),
        ]
        for secret in secrets {
            for alg in ["HS256", "HS384", "HS512"] {
                let token = TestToken.make(header: ["alg": .string(alg), "kid": "rsa1"], payload: Std.claims(world.now), signer: .hmac(key: secret))
                #expect(await world.refusal(token)?.reason == "algorithm")
            }
        }
        #expect(world.fetcher.totalCalls == 0, "refused before any key lookup")
    }

    @Test("an algorithm outside the IdP's list, or unknown")
    func algorithmNotAllowed() async {
        let world = VerifierWorld()
        #expect(await world.refusal(world.token(.PS256), idp: Std.idp(algorithms: [.RS256]))?.reason == "algorithm")
        let odd = TestToken.make(header: ["alg": "RS1", "kid": "rsa1"], payload: Std.claims(world.now), signer: .rsa(TestKeys.rsa, pss: false, hash: 256))
        #expect(await world.refusal(odd)?.reason == "algorithm")
        let notString = TestToken.make(header: ["alg": 256, "kid": "rsa1"], payload: Std.claims(world.now), signer: .raw([1]))
        #expect(await world.refusal(notString)?.reason == "malformed")
    }

    @Test("the key type must match the algorithm family")
    func keyTypeMismatch() async {
        let world = VerifierWorld()
        // ES256 header pointing at the RSA key.
        #expect(await world.refusal(world.token(.ES256, header: ["kid": "rsa1"]))?.reason == "key_type")
        // RS256 header pointing at an EC key.
        #expect(await world.refusal(world.token(.RS256, header: ["kid": "ec1"]))?.reason == "key_type")
        // ES384 header pointing at the P-256 key, EdDSA at the RSA key.
        #expect(await world.refusal(world.token(.ES384, header: ["kid": "ec1"]))?.reason == "key_type")
        #expect(await world.refusal(world.token(.EdDSA, header: ["kid": "rsa1"]))?.reason == "key_type")
    }

    @Test("a key's own alg restricts it")
    func keyAlgRestriction() async throws {
        let world = VerifierWorld(keys: [TestKeys.jwk(TestKeys.rsa, kid: "rsa1", extra: ["alg": "RS256"])])
        #expect(try await world.verify(world.token(.RS256)).subject == "user-1")
        #expect(await world.refusal(world.token(.PS256))?.reason == "key_type")
    }

    @Test("an unknown kid refetches the key set exactly once, then fails")
    func unknownKID() async {
        let world = VerifierWorld()
        _ = await world.refusal(world.token())  // first fetch
        #expect(world.fetcher.calls(Std.jwksURL) == 1)
        world.clock.advance(Double(world.settings.jwksMinRefreshSeconds))
        let error = await world.refusal(world.token(header: ["kid": "rotated"]))
        #expect(error?.reason == "unknown_kid")
        #expect(world.fetcher.calls(Std.jwksURL) == 2)
        #expect(await world.refusal(world.token(header: ["kid": "other"]))?.reason == "unknown_kid")
        #expect(world.fetcher.calls(Std.jwksURL) == 2, "rate-limited")
    }

    @Test("an unknown kid that the IdP has since published verifies after the refetch")
    func unknownKIDRotation() async throws {
        let world = VerifierWorld()
        _ = try await world.verify(world.token())
        world.fetcher.serveKeys(Std.jwksURL, TestKeys.standardJWKs + [TestKeys.jwk(TestKeys.rsa2, kid: "rsa2")])
        world.clock.advance(Double(world.settings.jwksMinRefreshSeconds))
        let token = TestToken.make(header: ["alg": "RS256", "kid": "rsa2"], payload: Std.claims(world.now), signer: .rsa(TestKeys.rsa2, pss: false, hash: 256))
        #expect(try await world.verify(token).subject == "user-1")
    }

    @Test("jku and x5u are ignored: never fetched, the IdP's own keys judge the token")
    func jkuIgnored() async throws {
        let world = VerifierWorld()
        let evil = "https://attacker.example/jwks"
        world.fetcher.serveKeys(evil, [TestKeys.jwk(TestKeys.attackerP256, kid: "ec1")])
        let forged = TestToken.make(
            header: ["alg": "ES256", "kid": "ec1", "jku": .string(evil), "x5u": .string(evil)], payload: Std.claims(world.now),
            signer: .p256(TestKeys.attackerP256))
        #expect(await world.refusal(forged)?.reason == "bad_signature")
        // A genuine token carrying a jku is judged by the IdP's keys and accepted.
        #expect(try await world.verify(world.token(.ES256, header: ["jku": .string(evil)])).subject == "user-1")
        #expect(world.fetcher.calls(evil) == 0)
    }

    @Test("an embedded jwk or x5c is never used")
    func embeddedKey() async {
        let world = VerifierWorld()
        let attackerJWK = TestKeys.jwk(TestKeys.attackerP256, kid: "attacker")
        // Without kid: the IdP's single ES256 key is used, and the signature does not match it.
        let noKID = TestToken.make(header: ["alg": "ES256", "jwk": attackerJWK], payload: Std.claims(world.now), signer: .p256(TestKeys.attackerP256))
        #expect(await world.refusal(noKID)?.reason == "bad_signature")
        // With the embedded key's kid: not in the IdP's set.
        let withKID = TestToken.make(
            header: ["alg": "ES256", "kid": "attacker", "jwk": attackerJWK, "x5c": ["MIIB"]], payload: Std.claims(world.now),
            signer: .p256(TestKeys.attackerP256))
        #expect(await world.refusal(withKID)?.reason == "unknown_kid")
    }

    @Test("a crit header is refused, even for an otherwise valid token")
    func crit() async {
        let world = VerifierWorld()
        #expect(await world.refusal(world.token(header: ["crit": ["exp"], "exp": 1]))?.reason == "crit")
        #expect(await world.refusal(world.token(header: ["crit": []]))?.reason == "crit")
    }

    @Test("a tampered payload or header fails the signature")
    func tampered() async {
        let world = VerifierWorld()
        for alg in [JWSAlgorithm.RS256, .ES256, .EdDSA] {
            let parts = world.token(alg).split(separator: ".").map(String.init)
            let other = world.token(alg, claims: ["sub": "admin"]).split(separator: ".").map(String.init)
            #expect(await world.refusal([parts[0], other[1], parts[2]].joined(separator: "."))?.reason == "bad_signature")
            var signature = Base64URL.decode(parts[2]) ?? []
            signature[signature.count / 2] ^= 0x01
            #expect(await world.refusal([parts[0], parts[1], Base64URL.encode(signature)].joined(separator: "."))?.reason == "bad_signature")
            #expect(await world.refusal([parts[0], parts[1], ""].joined(separator: "."))?.reason == "bad_signature")
        }
    }

    @Test("a 1024-bit RSA key in the key set is refused")
    func weakRSAKey() async {
        let world = VerifierWorld(keys: [TestKeys.jwk(TestKeys.rsa1024, kid: "weak")])
        let token = TestToken.make(header: ["alg": "RS256", "kid": "weak"], payload: Std.claims(world.now), signer: .rsa(TestKeys.rsa1024, pss: false, hash: 256))
        #expect(await world.refusal(token)?.reason == "weak_key")
        // Without a kid the weak key is not a candidate either.
        let noKID = TestToken.make(header: ["alg": "RS256"], payload: Std.claims(world.now), signer: .rsa(TestKeys.rsa1024, pss: false, hash: 256))
        #expect(await world.refusal(noKID)?.reason == "unknown_kid")
    }

    @Test("keys marked for encryption, or without verify in key_ops, or symmetric, are never used")
    func unusableKeys() async {
        let secret = Array("a shared secret that must never verify anything".utf8)
        let world = VerifierWorld(keys: [
            TestKeys.jwk(TestKeys.rsa, kid: "enc", extra: ["use": "enc"]),
            TestKeys.jwk(TestKeys.rsa, kid: "ops", extra: ["key_ops": ["sign", "encrypt"]]),
            ["kty": "oct", "kid": "oct", "k": .string(Base64URL.encode(secret))],
        ])
        let signer = TestSigner.rsa(TestKeys.rsa, pss: false, hash: 256)
        for kid in ["enc", "ops"] {
            let token = TestToken.make(header: ["alg": "RS256", "kid": .string(kid)], payload: Std.claims(world.now), signer: signer)
            #expect(await world.refusal(token)?.reason == "key_type")
        }
        let hmac = TestToken.make(header: ["alg": "HS256", "kid": "oct"], payload: Std.claims(world.now), signer: .hmac(key: secret))
        #expect(await world.refusal(hmac)?.reason == "algorithm")
        let rsaWithOct = TestToken.make(header: ["alg": "RS256", "kid": "oct"], payload: Std.claims(world.now), signer: signer)
        #expect(await world.refusal(rsaWithOct)?.reason == "key_type")
    }

    @Test("a token without kid needs exactly one usable key")
    func noKIDRules() async throws {
        let one = VerifierWorld(keys: [TestKeys.jwk(TestKeys.rsa, kid: "rsa1"), TestKeys.jwk(TestKeys.p256, kid: "ec1")])
        #expect(try await one.verify(one.token(.RS256, header: ["kid": nil])).subject == "user-1")
        #expect(try await one.verify(one.token(.ES256, header: ["kid": nil])).subject == "user-1")

        let two = VerifierWorld(keys: [TestKeys.jwk(TestKeys.rsa, kid: "rsa1"), TestKeys.jwk(TestKeys.rsa2, kid: "rsa2")])
        #expect(await two.refusal(two.token(.RS256, header: ["kid": nil]))?.reason == "unknown_kid")
        #expect(try await two.verify(two.token(.RS256)).subject == "user-1", "with its kid the same token verifies")
    }

    @Test("the key is chosen within this IdP's set only")
    func otherIdPKeys() async throws {
        // Two IdPs, two key sets: a token naming a kid from the other IdP's set is unknown here.
        let world = VerifierWorld(keys: [TestKeys.jwk(TestKeys.rsa, kid: "rsa1")])
        let otherURL = "https://other.example.com/jwks"
        world.fetcher.serveKeys(otherURL, [TestKeys.jwk(TestKeys.p256, kid: "ec1")])
        let other = Std.idp(name: "other", issuer: "https://other.example.com", jwksURI: otherURL)
        _ = try await world.verifier.verify(
            TestToken.make(header: ["alg": "ES256", "kid": "ec1"], payload: Std.claims(world.now, ["iss": "https://other.example.com"]), signer: .p256(TestKeys.p256)),
            tenant: Std.tenant, idp: other)
        #expect(await world.refusal(world.token(.ES256))?.reason == "unknown_kid")
    }
}
