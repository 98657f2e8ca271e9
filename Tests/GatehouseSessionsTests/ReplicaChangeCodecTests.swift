import GatehouseCore
import Testing

@testable import GatehouseSessions

/// The payloads replicas exchange over NOTIFY: readable with nothing but the payload (replicas
/// share no file), never a session id in clear, and strict about anything else anyone who may
/// NOTIFY on the database sends.
@Suite struct ReplicaChangeCodecTests {
    let digest = BindingDigester(salt: Array(repeating: 7, count: 32))!.digest(
        SessionKey(tenant: TenantID("acme")!, header: "mcp-session-id", id: "secret-session-4711"))

    @Test func changesRoundTripBetweenReplicasThatShareNothingAndNameTheirSender() throws {
        let a = ReplicaChangeCodec(origin: "replica-a")
        let b = ReplicaChangeCodec(origin: "replica-b")
        for change in [ReplicaChange.binding(digest), .registeredIdPs, .replicaKeys] {
            let payload = a.encode(change)
            let decoded = try #require(b.decode(payload))
            #expect(decoded.origin == "replica-a")
            #expect(decoded.change == change)
            #expect(payload.utf8.count <= ReplicaChangeCodec.maxPayloadBytes)
        }
        #expect(ReplicaChangeCodec().origin != ReplicaChangeCodec().origin, "each process has its own origin")
    }

    @Test func aPayloadCarriesNoSessionIDTenantOrHeader() {
        let payload = ReplicaChangeCodec(origin: "a").encode(.binding(digest))
        for clear in ["secret-session-4711", "acme", "mcp-session-id", "4711"] { #expect(!payload.contains(clear)) }
        #expect(ReplicaChangeCodec(origin: "a").encode(.registeredIdPs) == "g2.a.i")
    }

    @Test func anythingElseIsRefused() {
        let a = ReplicaChangeCodec(origin: "a")
        let good = a.encode(.binding(digest))
        let digestText = String(good.split(separator: ".").last!)
        let junk = [
            "", "g2", "g2.", "g2..", "g2.a", "g2.a.", "g2..k", "g2.a.x", "g2.a.k.", "g2.a.i.acme", "g1.a.k", "G2.a.k", " g2.a.k",
            "g2.a.b", "g2.a.b.", "g2.a.b.\(digestText).x", "g2.a.b.\(digestText.dropLast())", "g2.a.b.\(digestText)AA",
            "g2.a.b.\(digestText.dropLast(2))!!", "g2.a.b.\(String(repeating: "A", count: 21))=", "g2.a b.k", "g2.a/b.k",
            "g2.\(String(repeating: "o", count: 65)).k", "g2.é.k", "g2.a\u{0}.k", "g2.a.k\u{0}",
            String(repeating: "g2.a.k", count: 100), String(repeating: ".", count: 10_000),
        ]
        for payload in junk { #expect(a.decode(payload) == nil, "\(payload.prefix(30))") }
        #expect(a.decode("g2.\(String(repeating: "o", count: 64)).k") != nil, "the longest origin")
    }

    @Test func randomPayloadsNeverCrashAndAreNotBelieved() {
        let a = ReplicaChangeCodec(origin: "a")
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("g2.abk-_AZ09i\u{0}é".unicodeScalars)
        for _ in 0..<5000 {
            let count = Int.random(in: 0...40, using: &generator)
            let text = String(String.UnicodeScalarView((0..<count).map { _ in alphabet.randomElement(using: &generator)! }))
            if let decoded = a.decode(text) {
                // Only well-formed payloads decode, and they encode back to themselves.
                #expect(ReplicaChangeCodec(origin: decoded.origin).encode(decoded.change) == text)
            }
        }
    }
}
