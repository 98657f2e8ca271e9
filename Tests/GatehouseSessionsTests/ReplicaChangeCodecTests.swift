import GatehouseCore
import Testing

@testable import GatehouseSessions

/// The payloads replicas exchange over NOTIFY (DESIGN 9): readable only with the shared key,
/// never a session id in clear, and nothing a forger or another deployment sends is believed.
@Suite struct ReplicaChangeCodecTests {
    let key = [UInt8](repeating: 7, count: 32)
    let binding = ReplicaChange.binding(SessionKey(tenant: TenantID("acme")!, header: "mcp-session-id", id: "secret-session-4711"))

    @Test func changesRoundTripAndNameTheirSender() throws {
        let a = ReplicaChangeCodec(flowKey: key, origin: "replica-a")
        let b = ReplicaChangeCodec(flowKey: key, origin: "replica-b")
        for change in [binding, .registeredIdPs(TenantID("globex")!)] {
            let payload = try a.encode(change)
            let decoded = try #require(b.decode(payload))
            #expect(decoded.origin == "replica-a")
            #expect(decoded.change == change)
        }
    }

    @Test func aPayloadCarriesNoSessionIDTenantOrHeaderInClear() throws {
        let payload = try ReplicaChangeCodec(flowKey: key, origin: "a").encode(binding)
        for clear in ["secret-session-4711", "acme", "mcp-session-id"] { #expect(!payload.contains(clear)) }
        #expect(payload.utf8.count < 8000, "NOTIFY payloads are limited to 8000 bytes")
        let longest = ReplicaChange.binding(SessionKey(tenant: TenantID("acme")!, header: "mcp-session-id", id: String(repeating: "x", count: 256)))
        #expect(try ReplicaChangeCodec(flowKey: key, origin: "a").encode(longest).utf8.count < 8000)
    }

    @Test func anotherKeyAForgedSenderOrDamageIsRefused() throws {
        let a = ReplicaChangeCodec(flowKey: key, origin: "a")
        let payload = try a.encode(binding)
        #expect(ReplicaChangeCodec(flowKey: [UInt8](repeating: 8, count: 32), origin: "b").decode(payload) == nil, "another deployment's key")
        // The sender is authenticated: relabelling a payload as another replica's breaks it.
        let parts = payload.split(separator: ".").map(String.init)
        #expect(a.decode([parts[0], "b", parts[2]].joined(separator: ".")) == nil)
        var bytes = Array(parts[2].utf8)
        bytes[bytes.count / 2] = bytes[bytes.count / 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(a.decode([parts[0], parts[1], String(decoding: bytes, as: UTF8.self)].joined(separator: ".")) == nil)
        for junk in ["", "g1", "g1..", "g2.a.\(parts[2])", "g1.a.!!!", String(repeating: "g1.", count: 1000), "g1.\(String(repeating: "o", count: 65)).\(parts[2])"] {
            #expect(a.decode(junk) == nil, "\(junk.prefix(20))")
        }
    }
}
