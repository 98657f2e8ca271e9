import NIOCore
import Testing

@testable import GatehouseProxy

/// The access line and the heads are written through `BoundedWriter`: its pieces must be the
/// bytes the `ByteBuffer` writers give.
struct BoundedWriterTests {
    static func written(_ body: (inout BoundedWriter) -> Void) -> String {
        var buffer = ByteBuffer()
        buffer.writeBounded(maxBytes: 4096, body)
        return String(buffer: buffer)
    }

    @Test(arguments: ["", "plain", "caf\u{E9}", "quote \" back\\slash", "line\nbreak\r\t", "\u{1}\u{7F}", "\u{2028}\u{2029}", "\u{1F600}"])
    func jsonStringsAreEscapedAsTheBufferWriterEscapesThem(_ s: String) {
        var expected = ByteBuffer()
        expected.writeJSONString(s)
        #expect(Self.written { $0.jsonString(s) } == String(buffer: expected))
    }

    @Test(arguments: [0, 7, 10, 99, 1000, 1_700_000_000, Int.max, -1, -42, Int.min])
    func decimalsAreWritten(_ value: Int) {
        #expect(Self.written { $0.decimal(value) } == String(value))
    }

    @Test func piecesFollowEachOtherWithinTheReservation() {
        let text = Self.written { out in
            out.staticString("a: ")
            out.string("b")
            out.byte(UInt8(ascii: "c"))
            out.crlf()
            Array("de".utf8).withUnsafeBytes { out.bytes($0) }
            RequestIDBytes.generated(0xABCD).write(into: &out)
        }
        #expect(text == "a: bc\r\nde000000000000abcd")
        #expect(BoundedWriter.jsonBound(3) == 20)
    }
}
