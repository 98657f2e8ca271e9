import NIOCore
import Testing

@testable import GatehouseProxy

/// Inputs the libFuzzer targets (`scripts/fuzz.sh`, docs/fuzzing.md) found, each kept as the
/// property it broke: a verdict must not depend on how the bytes were split into reads.
struct FuzzFindingsTests {
    /// The outcome of parsing `bytes` as a response head, first `cut` bytes in one read and the
    /// rest in a second (cut 0: all in one read).
    static func responseOutcome(_ bytes: [UInt8], cut: Int) -> String {
        var parser = ResponseHeadParser(maxHeadBytes: 8192, maxFields: 64)
        if cut > 0 {
            let first = parser.parse(ByteBuffer(bytes: bytes[0..<cut]))
            if case .needMore = first {} else { return "\(first)" }
        }
        return "\(parser.parse(ByteBuffer(bytes: bytes)))"
    }

    static func requestOutcome(_ bytes: [UInt8], cut: Int) -> String {
        var parser = RequestHeadParser(maxHeadBytes: 8192, maxFields: 64)
        if cut > 0 {
            let first = parser.parse(ByteBuffer(bytes: bytes[0..<cut]))
            if case .needMore = first {} else { return "\(first)" }
        }
        return "\(parser.parse(ByteBuffer(bytes: bytes)))"
    }

    /// FuzzResponseHead: a status line that is not `HTTP/…` and ends in a bare LF was "LF without
    /// CR" in one read but "malformed status line" when its first bytes came alone (the prefix
    /// was checked only while the line end had not arrived).
    @Test(arguments: [
        Array("H\u{FF}\u{FF}TTP/1.1 200 OK\n\r\nContent-Length: 2\r\n\r\nok".utf8),
        Array("XTTP/1.1 200\nContent-Length: 0\r\n\r\n".utf8),
        Array("HTTP/1.1 200\nContent-Length: 0\r\n\r\n".utf8),
        Array("HT\n".utf8),
    ])
    func aResponseStatusLineHasOneVerdictWhateverTheSplit(_ bytes: [UInt8]) {
        let whole = Self.responseOutcome(bytes, cut: 0)
        #expect(whole.contains("failure"))
        for cut in 1..<bytes.count {
            #expect(Self.responseOutcome(bytes, cut: cut) == whole, "cut at \(cut)")
        }
    }

    /// The same property for request heads, over the ways a request line can be wrong.
    @Test(arguments: [
        "G\u{1}T / HTTP/1.1\nHost: a\r\n\r\n", "GET / HTTP/1.1\nHost: a\r\n\r\n", "GET / HTTQ/1.1\r\nHost: a\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", "\r\n\n",
    ])
    func aRequestHasOneVerdictWhateverTheSplit(_ text: String) {
        let bytes = Array(text.utf8)
        let whole = Self.requestOutcome(bytes, cut: 0)
        #expect(whole.contains("failure"))
        for cut in 1..<bytes.count {
            #expect(Self.requestOutcome(bytes, cut: cut) == whole, "cut at \(cut)")
        }
    }
}
