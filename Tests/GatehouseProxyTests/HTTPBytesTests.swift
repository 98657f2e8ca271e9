import Testing

@testable import GatehouseProxy

/// The word- and vector-at-a-time byte checks agree with the byte-at-a-time rules for every
/// byte value in every position.
struct HTTPBytesTests {
    @Test func tokenBytesAreCheckedAlikeByTableAndOneByOne() {
        let expected: [Bool] = (0...255).map { b in
            let c = UInt8(b)
            return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x2E || c == 0x5F
        }
        for b in 0...255 { #expect(HTTPBytes.isTokenByte(UInt8(b)) == expected[b], "byte \(b)") }
        let good = Array("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_".utf8)
        for position in 0..<good.count {
            for b in 0...255 {
                var bytes = good
                bytes[position] = UInt8(b)
                let verdict = bytes.withUnsafeBytes { HTTPBytes.allTokenBytes($0, 0..<$0.count) }
                if verdict != expected[b] { Issue.record("byte \(b) at \(position): \(verdict)") }
            }
        }
        #expect(good.withUnsafeBytes { HTTPBytes.allTokenBytes($0, 3..<3) })
    }

    @Test func controlBytesAndDELAreFoundInEveryLaneOfAWord() {
        for lane in 0..<8 {
            for b in 0...255 {
                var word = [UInt8](repeating: 0x61, count: 8)
                word[lane] = UInt8(b)
                let w = word.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                #expect(HTTPBytes.hasControlOrDEL(w) == (b < 0x20 || b == 0x7F), "byte \(b) in lane \(lane)")
            }
        }
    }
}
