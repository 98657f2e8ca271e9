import GatehouseCore
import Testing

@testable import GatehouseIdentity

@Suite("Key-set documents")
struct KeySetParsingTests {
    @Test("every supported key type parses and is usable for its algorithms only")
    func supportedKeys() throws {
        let set = try KeySet.parse(TestKeys.document(TestKeys.standardJWKs))
        #expect(set.keys.count == 4)
        #expect(set.refusals.isEmpty)
        let byKID = Dictionary(uniqueKeysWithValues: set.keys.map { ($0.kid ?? "", $0) })
        #expect(byKID["rsa1"]?.canVerify(.PS512) == true)
        #expect(byKID["rsa1"]?.canVerify(.ES256) == false)
        #expect(byKID["ec1"]?.canVerify(.ES256) == true)
        #expect(byKID["ec1"]?.canVerify(.ES384) == false)
        #expect(byKID["ec384"]?.canVerify(.ES384) == true)
        #expect(byKID["ed1"]?.canVerify(.EdDSA) == true)
        #expect(byKID["ed1"]?.canVerify(.RS256) == false)
    }

    @Test("unusable keys are kept with the reason, never usable")
    func refusedKeys() throws {
        let set = try KeySet.parse(TestKeys.document([
            TestKeys.jwk(TestKeys.rsa1024, kid: "weak"),
            TestKeys.jwk(TestKeys.rsa, kid: "enc", extra: ["use": "enc"]),
            TestKeys.jwk(TestKeys.rsa, kid: "ops", extra: ["key_ops": ["encrypt"]]),
            TestKeys.jwk(TestKeys.rsa, kid: "ops-bad", extra: ["key_ops": "verify"]),
            TestKeys.jwk(TestKeys.rsa, kid: "use-bad", extra: ["use": 1]),
            ["kty": "oct", "kid": "oct", "k": "c2VjcmV0"],
            ["kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA"],
            ["kty": "EC", "kid": "short", "crv": "P-256", "x": "AAAA", "y": "AAAA"],
            ["kty": "EC", "kid": "offcurve", "crv": "P-256", "x": .string(Base64URL.encode([UInt8](repeating: 1, count: 32))), "y": .string(Base64URL.encode([UInt8](repeating: 2, count: 32)))],
            ["kty": "OKP", "kid": "x448", "crv": "Ed448", "x": "AA"],
            ["kty": "RSA", "kid": "no-n", "e": "AQAB"],
            ["kty": "RSA", "kid": "zero-n", "n": "AAAA", "e": "AQAB"],
            ["kty": "RSA", "kid": "bad-b64", "n": "not base64!", "e": "AQAB"],
            ["kid": "no-kty"],
            ["kty": "XYZ", "kid": "unknown"],
            "not an object",
            ["kty": "RSA", "kid": 5],
        ]))
        #expect(set.keys.count == 17)
        for alg in JWSAlgorithm.allCases {
            #expect(!set.keys.contains { $0.canVerify(alg) })
        }
        let reasons = Dictionary(set.refusals.compactMap { r in r.kid.map { ($0, r.refusal) } }, uniquingKeysWith: { a, _ in a })
        #expect(reasons["weak"] == .weak)
        #expect(reasons["enc"] == .notForSigning)
        #expect(reasons["ops"] == .notForSigning)
        #expect(reasons["ops-bad"] == .notForSigning)
        #expect(reasons["oct"] == .symmetric)
        #expect(reasons["p521"] == .unsupported)
        #expect(reasons["short"] == .invalid)
        #expect(reasons["offcurve"] == .invalid)
        #expect(reasons["zero-n"] == .invalid)
    }

    @Test("RSA moduli: 2048 to 8192 bits are usable; one bit less or more is refused, leading zeros do not count")
    func rsaModulusBounds() throws {
        // An odd modulus of exactly `bits` bits (not a real key: only its size is judged here).
        func modulus(bits: Int, leadingZeros: Int = 0) -> String {
            let count = (bits + 7) / 8
            var bytes = [UInt8](repeating: 0xFF, count: count)
            let topBits = bits - (count - 1) * 8
            bytes[0] = UInt8((1 << topBits) - 1)
            return Base64URL.encode([UInt8](repeating: 0, count: leadingZeros) + bytes)
        }
        let cases: [(kid: String, n: String, usable: Bool, refusal: JSONWebKey.Refusal?)] = [
            ("2047", modulus(bits: 2047), false, .weak),
            ("2047-padded", modulus(bits: 2047, leadingZeros: 2), false, .weak),
            ("2048", modulus(bits: 2048), true, nil),
            ("8192", modulus(bits: 8192), true, nil),
            ("8193", modulus(bits: 8193), false, .unsupported),
        ]
        let set = try KeySet.parse(TestKeys.document(cases.map { ["kty": "RSA", "kid": .string($0.kid), "n": .string($0.n), "e": "AQAB"] }))
        for (key, expected) in zip(set.keys, cases) {
            #expect(key.kid == expected.kid)
            #expect(key.canVerify(.RS256) == expected.usable, "\(expected.kid)")
            #expect(key.refusal == expected.refusal, "\(expected.kid)")
        }
    }

    @Test("sig use and verify key_ops are accepted")
    func explicitSigningKey() throws {
        let set = try KeySet.parse(TestKeys.document([TestKeys.jwk(TestKeys.p256, kid: "k", extra: ["use": "sig", "key_ops": ["verify"], "alg": "ES256"])]))
        #expect(set.keys.first?.canVerify(.ES256) == true)
    }

    @Test("documents over 256 KiB or with over 100 keys are refused whole")
    func limits() throws {
        let hundred = (0..<100).map { TestKeys.jwk(TestKeys.p256, kid: "k\($0)") }
        #expect(try KeySet.parse(TestKeys.document(hundred)).keys.count == 100)
        #expect(throws: KeySet.DocumentError.self) { try KeySet.parse(TestKeys.document(hundred + [TestKeys.jwk(TestKeys.p256, kid: "k100")])) }

        let padded = TestKeys.document([TestKeys.jwk(TestKeys.p256, kid: "k", extra: ["pad": .string(String(repeating: "x", count: 256 * 1024))])])
        #expect(padded.count > KeySet.maxDocumentBytes)
        #expect(throws: KeySet.DocumentError.self) { try KeySet.parse(padded) }
    }

    @Test("documents that are not a JWK Set are refused")
    func notAKeySet() {
        for text in ["", "{", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[]}x", "null", "{\"keys\":[],\"keys\":[]}"] {
            #expect(throws: KeySet.DocumentError.self, "\(text)") { try KeySet.parse(Array(text.utf8)) }
        }
        #expect(throws: KeySet.DocumentError.self) {
            try KeySet.parse(Array(("{\"keys\":" + String(repeating: "[", count: 100_000)).utf8))
        }
    }
}
