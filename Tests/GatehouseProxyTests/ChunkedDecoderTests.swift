import NIOCore
import Testing

@testable import GatehouseProxy

/// The chunked body decoder (RFC 9112 7.1), strict, incremental.
struct ChunkedDecoderTests {
    enum Decoded: Equatable {
        case body([UInt8], rest: [UInt8])
        case needMore([UInt8])
        case failure(HTTPParseError.Code)
    }

    /// Feeds `pieces` one after the other (as separate reads).
    static func decode(_ pieces: [[UInt8]]) -> Decoded {
        var decoder = ChunkedDecoder()
        var body: [UInt8] = []
        var buffer = ByteBuffer()
        for (i, piece) in pieces.enumerated() {
            buffer.writeBytes(piece)
            switch decoder.decode(&buffer, emit: { body += $0.readableBytesView }) {
            case .needMore: continue
            case .end: return .body(body, rest: Array(buffer.readableBytesView) + pieces[(i + 1)...].flatMap { $0 })
            case .failure(let e): return .failure(e.code)
            }
        }
        return .needMore(body)
    }

    static func decode(_ text: String) -> Decoded { decode([Array(text.utf8)]) }

    @Test func chunksTrailersAndWhatFollows() {
        #expect(Self.decode("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT") == .body(Array("hello world".utf8), rest: Array("NEXT".utf8)))
        #expect(Self.decode("A;name=value;x\r\n0123456789\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n") == .body(Array("0123456789".utf8), rest: []))
        #expect(Self.decode("3 ; a = \"q\\\"v\" ; b\r\nabc\r\n0\r\n\r\n") == .body(Array("abc".utf8), rest: []))
        #expect(Self.decode("0\r\n\r\n") == .body([], rest: []))
        #expect(Self.decode("00000000000000ff\r\n" + String(repeating: "x", count: 255) + "\r\n0\r\n\r\n") != .failure(.chunkSizeTooLarge))
    }

    @Test func everySplitDecodesTheSame() {
        let bytes = Array("4;e=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\nrest".utf8)
        let whole = Self.decode([bytes])
        #expect(whole == .body(Array("Wikipedia in\r\n\r\nchunks.".utf8), rest: Array("rest".utf8)))
        for split in 1..<bytes.count {
            #expect(Self.decode([Array(bytes[0..<split]), Array(bytes[split...])]) == whole, "split at \(split)")
        }
        #expect(Self.decode(bytes.map { [$0] }) == whole, "a byte at a time")
    }

    static let refused: [(String, HTTPParseError.Code)] = [
        ("ZZ\r\nhello\r\n0\r\n\r\n", .badChunkSize),
        ("-5\r\nhello\r\n0\r\n\r\n", .badChunkSize),
        ("+5\r\nhello\r\n0\r\n\r\n", .badChunkSize),
        ("\r\nhello\r\n0\r\n\r\n", .badChunkSize),
        ("0x5\r\nhello\r\n0\r\n\r\n", .badChunkSize),
        ("5 5\r\nhello\r\n0\r\n\r\n", .badChunkExtension),
        ("10000000000000000\r\n", .chunkSizeTooLarge),
        ("fffffffffffffffff\r\n", .chunkSizeTooLarge),
        ("5\nhello\r\n0\r\n\r\n", .badChunkSize),
        ("5\r\rhello\r\n0\r\n\r\n", .bareCR),
        ("5\r\nhelloX\r\n0\r\n\r\n", .missingChunkCRLF),
        ("5\r\nhello\n0\r\n\r\n", .missingChunkCRLF),
        ("5\r\nhello\r\r0\r\n\r\n", .missingChunkCRLF),
        ("5;\u{1}\r\nhello\r\n0\r\n\r\n", .badChunkExtension),
        ("5;a=1=\r\nhello\r\n0\r\n\r\n", .badChunkExtension),
        ("5;a:=1\r\nhello\r\n0\r\n\r\n", .badChunkExtension),
        ("5;\r\nhello\r\n0\r\n\r\n", .badChunkExtension),
        ("5;a=\r\nhello\r\n0\r\n\r\n", .badChunkExtension),
        ("5;" + String(repeating: "e", count: 5000) + "\r\nhello\r\n0\r\n\r\n", .badChunkExtension),
        ("0\r\nbad trailer\r\n\r\n", .badTrailer),
        ("0\r\n folded: x\r\n\r\n", .badTrailer),
        ("0\r\nX: 1\nY: 2\r\n\r\n", .badTrailer),
        ("0\r\nX: 1\r\n\n", .badTrailer),
        ("0\r\n" + String(repeating: "X-T: 1234567890\r\n", count: 1200) + "\r\n", .trailersTooLarge),
    ]

    @Test(arguments: 0..<refused.count)
    func malformedBodiesAreRefused(_ index: Int) {
        let (text, expected) = Self.refused[index]
        #expect(Self.decode(text) == .failure(expected), "\(text.prefix(40).debugDescription)")
    }

    @Test func aBodyReaderByLengthStopsAtItsEnd() {
        var reader = BodyReader.length(remaining: 5)
        var buffer = ByteBuffer(string: "helloGET /")
        var body: [UInt8] = []
        #expect(reader.read(&buffer, emit: { body += $0.readableBytesView }) == .end)
        #expect(body == Array("hello".utf8))
        #expect(buffer.readableBytes == 5)
        #expect(reader.isFinished)
    }
}
