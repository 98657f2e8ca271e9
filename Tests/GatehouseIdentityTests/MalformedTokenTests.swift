import GatehouseCore
import Testing

@testable import GatehouseIdentity

@Suite("Token verification: malformed input never crashes")
struct MalformedTokenTests {
    static let b64 = Base64URL.encode
    static let validPayload = Base64URL.encode(Std.claims(1_700_000_000).compactText)
    static let rsHeader = Base64URL.encode(#"{"alg":"RS256","kid":"rsa1"}"#)

    static let garbage: [String] = [
        "", ".", "..", "...", "....", "a", "a.b", "a.b.c", "a.b.c.d", "..sig", "\(rsHeader)..sig", ".\(validPayload).sig",
        "\(rsHeader).\(validPayload).sig.extra", "not a token at all", "Bearer x.y.z",
        // Standard base64 (not url-safe), padding, whitespace, non-ASCII.
        "\(rsHeader)=.\(validPayload).AAAA", "\(rsHeader).\(validPayload).AA+/", "\(rsHeader) .\(validPayload).AAAA",
        "\(rsHeader).\(validPayload).AAAA=", "é.é.é", "\(rsHeader).\(validPayload).A",
        // Decodes, but not JSON / not objects.
        "\(b64("not json")).\(validPayload).AAAA", "\(b64("[\"alg\",\"RS256\"]")).\(validPayload).AAAA",
        "\(b64("\"RS256\"")).\(validPayload).AAAA", "\(b64("null")).\(validPayload).AAAA",
        "\(rsHeader).\(b64("[1,2]")).AAAA", "\(rsHeader).\(b64("42")).AAAA", "\(rsHeader).\(b64("{\"a\":1")).AAAA",
        "\(b64("{\"alg\":\"RS256\",\"alg\":\"none\"}")).\(validPayload).AAAA",
        "\(b64("{}")).\(validPayload).AAAA", "\(b64("{\"alg\":\"RS256\",\"kid\":7}")).\(validPayload).AAAA",
        "\(b64("{\"alg\":\"RS256\"}\u{0}")).\(validPayload).AAAA",
        // Deep nesting in header and payload.
        "\(b64("{\"alg\":\"RS256\",\"x\":" + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}")).\(validPayload).AAAA",
        "\(rsHeader).\(b64("{\"a\":" + String(repeating: "{\"a\":", count: 2000) + "1" + String(repeating: "}", count: 2001))).AAAA",
    ]

    @Test("garbage is refused as malformed (or too large), never verified")
    func garbage() async {
        var settings = IdentitySettings()
        settings.maxTokenBytes = 65536
        let world = VerifierWorld(settings: settings)
        for token in Self.garbage {
            let error = await world.refusal(token)
            #expect(error?.kind == .invalidToken, "\(token.prefix(40))")
            #expect(error?.reason == "malformed", "\(token.prefix(40))")
        }
        #expect(world.fetcher.totalCalls == 0, "no garbage reaches key lookup")
    }

    @Test("random bytes never crash the parser")
    func fuzz() async {
        let world = VerifierWorld()
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ {}\"".utf8)
        for _ in 0..<500 {
            let length = Int.random(in: 0..<200, using: &rng)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &rng)! }
            #expect(await world.refusal(String(decoding: bytes, as: UTF8.self)) != nil)
        }
    }

    @Test("a token over max_token_bytes is refused without parsing")
    func oversize() async {
        var settings = IdentitySettings()
        settings.maxTokenBytes = 1024
        let world = VerifierWorld(settings: settings)
        let big = world.token(claims: ["pad": .string(String(repeating: "x", count: 2000))])
        #expect(await world.refusal(big)?.reason == "too_large")
        #expect(await world.refusal(String(repeating: "a", count: 1025))?.reason == "too_large")
        #expect(await world.refusal(String(repeating: "a", count: 1024))?.reason == "malformed")
        #expect(TokenVerifier.peekIssuer(big, maxBytes: 1024) == nil)
    }
}
