import Crypto
import GatehouseCore
import Testing
import _CryptoExtras

@testable import GatehouseIdentity

@Suite("Token verification: accepted tokens")
struct TokenVerifierTests {
    @Test("a correctly signed token verifies", arguments: JWSAlgorithm.allCases)
    func happyPath(alg: JWSAlgorithm) async throws {
        let world = VerifierWorld()
        let principal = try await world.verify(world.token(alg))
        #expect(principal.subject == "user-1")
        #expect(principal.tenant == Std.tenant)
        #expect(principal.idp == "main")
        #expect(principal.issuer == Std.issuer)
        #expect(principal.expiresAt == Int64(world.now) + 300)
        #expect(principal.claims["aud"] == "api")
    }

    @Test("the principal carries client id and scopes")
    func principalFields() async throws {
        let world = VerifierWorld()
        let principal = try await world.verify(world.token(claims: ["client_id": "c1", "scope": "read  write", "scp": ["admin", "read"]]))
        #expect(principal.clientID == "c1")
        #expect(principal.scopes == ["read", "write", "admin"])
        let viaAzp = try await world.verify(world.token(claims: ["azp": "c2"]))
        #expect(viaAzp.clientID == "c2")
    }

    @Test("an IdP's algorithm list is honoured")
    func algorithmList() async throws {
        let world = VerifierWorld()
        let idp = Std.idp(algorithms: [.ES256])
        #expect(try await world.verify(world.token(.ES256), idp: idp).subject == "user-1")
        #expect(await world.refusal(world.token(.RS256), idp: idp)?.reason == "algorithm")
    }

    // Tokens produced by another implementation (Python `cryptography` over OpenSSL) with
    // RFC 7518 PSS parameters: MGF1 with the same hash, salt length = hash length.
    static let interopN = "iWXE5lzPAi00te8eYZUL97RLUaehAihyY6S2ydkack6MDIx9b3POu6zOsYfqVrZUgmNCZx_2Q6hXnTlY2ihP_KRU2YODvU4p_z8DQiunZq_BveHBJ1GzLhtwH_pKYdQxtVkLlp7cz7HZTJ5llBCsbO7o5wGstPrTgosI5eC1z-LwV4xtTnJqNukY2JlNp5j1CFOOc9dVSqAdG-123n6krQVlHLB2_ne8caZUTmVOAD9xOb2XB9wIu_xfxu2cZUuL3HEBF3V1k9R6SO6bXvnAxbkknqfoP9I5C10JnQf-jwwF19fZlHvdxBz4qqhscNemh6LzmXM3e8oSC_y24NvYlQ"
    static let interopPS256 = "eyJhbGciOiJQUzI1NiIsImtpZCI6ImludGVyb3AifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSIsInN1YiI6ImludGVyb3AiLCJhdWQiOiJhcGkiLCJleHAiOjE3MDAwMDM2MDAsImlhdCI6MTcwMDAwMDAwMH0.dL7qruuKpamp8HqbVm5wlZ4G0itUmXsqdppdvZRsl7MdvYJo3mW37qu_VYLQGwTd-IG6uELV3W5jy1opH5AyZo7WsC6Fp2mok3pRPiAPvDVrI5SFaiZBIvln5laAFNWJQYQTX9TK30H0Tv2Ulqe_jXWYXXCWS3txmnWoNo-iBfdSrSvrkyS8WdetlGUXpPEZML8PyDvQIhVIvK-e0mWs97devAJ2l62EmsRN3gbddePJ9Jetu1lDLEGO65lTZIcHdqEznCPB4RZ976rEGPRiglJEdrxx8vmP1hDEca94VOUWvOsqBN_odwQOGD7Axw1HsYEX7_3bbctXRiYEopGfvg"
    static let interopPS384 = "eyJhbGciOiJQUzM4NCIsImtpZCI6ImludGVyb3AifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSIsInN1YiI6ImludGVyb3AiLCJhdWQiOiJhcGkiLCJleHAiOjE3MDAwMDM2MDAsImlhdCI6MTcwMDAwMDAwMH0.Ob071llYUowAbLvKjEq6-q5PgpUJnNUv421edDpqQyC8rZrsaqURKQ-6G3ASdEBzlln1V76w4zrMDyxJeKBmM1WzhAtSqdNAuH7IN-EdZJo7zWahiWUFwrzJQjqInBonnGRM-ztGFrSQIMII7hdNyFxuQnTLMgh6VqLK8Umx0rSrglAFp4MGcSw9lcUDJv5rU4bphCqRQtRgnMEzQziaJ7uTW9BSL2I-9dnizdNET72Ha7iW5MFCsLGoIbBidShXrqtaQ-CLkjwBHi2q7UlhYEu5n1YVttgH1QNsSw2R8Be1VI03E6IzWLOYawqsM4Gs326tAabkto50efUYHi996A"
    /// Same key, PS256 with the maximum salt length instead of the hash length: not RFC 7518.
    static let interopPS256MaxSalt = "eyJhbGciOiJQUzI1NiIsImtpZCI6ImludGVyb3AifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSIsInN1YiI6ImludGVyb3AiLCJhdWQiOiJhcGkiLCJleHAiOjE3MDAwMDM2MDAsImlhdCI6MTcwMDAwMDAwMH0.Bjcx_deGoGsxTd2peH95ukBjV-FVQk1bHA_vg0S4En233zJnJe3uNLt-wXnxxT78s4Qt4FfC2Fjf6JvkowxXNAAXXuasSBrWW27DLUZ5LV67FTM8XURC23Mtvd-TFPc6F4wIG0VE7jGQVneScnvuwBPXb7rVVz0OchrfvMCrMXkvMb5xtAhBa6U3upbNc8DH1Ly0YKrJZ7MolC8tvX6vICQf_T6G-VPPhMxC_FhhcDVkt3jVN7YexejYA8S1XI2iA8rW_H_zb8E6nRxKNO2mxT3xHOWqH5PncgNud_hIzm7Sl1GNemBMi1LqDvbUg8-z9O272Bi1nLy2l8GsY4h4pQ"

    @Test("PS256/PS384 use RFC 7518 parameters (salt = hash length), checked against another implementation")
    func pssInterop() async throws {
        let world = VerifierWorld(keys: [["kty": "RSA", "kid": "interop", "n": .string(Self.interopN), "e": "AQAB"]])
        #expect(try await world.verify(Self.interopPS256).subject == "interop")
        #expect(try await world.verify(Self.interopPS384).subject == "interop")
        #expect(await world.refusal(Self.interopPS256MaxSalt)?.reason == "bad_signature")
    }

    @Test("ECDSA signatures are raw r||s; a DER-encoded signature is refused")
    func ecdsaRawSignature() async throws {
        let world = VerifierWorld()
        let input = Base64URL.encode(#"{"alg":"ES256","kid":"ec1"}"#) + "." + Base64URL.encode(Std.claims(world.now).compactText)
        let signature = try TestKeys.p256.signature(for: SHA256.hash(data: Array(input.utf8)))
        let raw = input + "." + Base64URL.encode(Array(signature.rawRepresentation))
        let der = input + "." + Base64URL.encode(Array(signature.derRepresentation))
        #expect(try await world.verify(raw).subject == "user-1")
        #expect(await world.refusal(der)?.reason == "bad_signature")
    }

    @Test("peekIssuer reads the unverified iss, and nothing from garbage")
    func peekIssuer() {
        let world = VerifierWorld()
        #expect(TokenVerifier.peekIssuer(world.token(), maxBytes: 8192) == Std.issuer)
        #expect(TokenVerifier.peekIssuer(world.token(), maxBytes: 10) == nil)
        #expect(TokenVerifier.peekIssuer("a.b.c", maxBytes: 8192) == nil)
        #expect(TokenVerifier.peekIssuer("", maxBytes: 8192) == nil)
    }
}
