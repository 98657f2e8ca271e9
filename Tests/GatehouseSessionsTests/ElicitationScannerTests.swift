import Foundation
import GatehouseCore
import Testing

@testable import GatehouseSessions

@Suite("Elicitation scanner")
struct ElicitationScannerTests {
    static func errorMessage(id: Int = 1, code: String = "-32042", elicitations: String) -> String {
        #"{"jsonrpc":"2.0","id":\#(id),"error":{"code":\#(code),"message":"URL elicitation required","data":{"elicitations":\#(elicitations)}}}"#
    }

    static let one = #"[{"mode":"url","elicitationId":"elic-1","url":"https://provider.example.com/auth?x=1","message":"Sign in"}]"#
    static let expected = [Elicitation(elicitationID: "elic-1", url: "https://provider.example.com/auth?x=1")]

    static func scan(_ contentType: String?, _ chunks: [[UInt8]]) -> [Elicitation] {
        let scanner = ElicitationScanner(contentType: contentType)
        var found: [Elicitation] = []
        for chunk in chunks {
            scanner.feed(chunk)
            found += scanner.drain()
        }
        return found + scanner.finish()
    }

    static func scan(_ contentType: String?, _ text: String) -> [Elicitation] {
        scan(contentType, [Array(text.utf8)])
    }

    // MARK: - JSON bodies

    @Test("a JSON-RPC error -32042 in a JSON body is found at finish")
    func jsonBody() {
        let scanner = ElicitationScanner(contentType: "application/json; charset=utf-8")
        let body = Array(Self.errorMessage(elicitations: Self.one).utf8)
        scanner.feed(body[..<10])
        scanner.feed(body[10...])
        #expect(scanner.drain().isEmpty)
        #expect(scanner.finish() == Self.expected)
        #expect(scanner.finish().isEmpty)
    }

    @Test("a batch array: every matching member, none of the others")
    func batch() {
        let two = #"[{"elicitationId":"a","url":"https://a.example.com/"},{"elicitationId":"b","url":"http://b.example.com:8080/x"}]"#
        let body = "[" + [
            #"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"-32042"}]}}"#,
            Self.errorMessage(id: 2, elicitations: two),
            Self.errorMessage(id: 3, code: "-32600", elicitations: Self.one),
            Self.errorMessage(id: 4, elicitations: Self.one),
        ].joined(separator: ",") + "]"
        #expect(
            Self.scan("application/json", body) == [
                Elicitation(elicitationID: "a", url: "https://a.example.com/"),
                Elicitation(elicitationID: "b", url: "http://b.example.com:8080/x"),
            ] + Self.expected)
    }

    @Test("other codes, a code as a string, or malformed elicitation lists are not matches", arguments: [
        errorMessage(code: "-32600", elicitations: one),
        errorMessage(code: "32042", elicitations: one),
        errorMessage(code: "\"-32042\"", elicitations: one),
        errorMessage(elicitations: #"{"elicitationId":"e","url":"https://p.example.com/"}"#),
        errorMessage(elicitations: #"[{"elicitationId":7,"url":"https://p.example.com/"}]"#),
        errorMessage(elicitations: #"[{"elicitationId":"e"}]"#),
        errorMessage(elicitations: #"[{"elicitationId":"e","url":"javascript:alert(1)"}]"#),
        errorMessage(elicitations: #"[{"elicitationId":"e","url":"ftp://p.example.com/"}]"#),
        errorMessage(elicitations: #"[{"elicitationId":"e","url":"/relative"}]"#),
        errorMessage(elicitations: #"[{"mode":"form","elicitationId":"e","url":"https://p.example.com/"}]"#),
        errorMessage(elicitations: #"["https://p.example.com/"]"#),
        #"{"jsonrpc":"2.0","id":1,"error":{"code":-32042,"message":"x"}}"#,
        #"{"jsonrpc":"2.0","id":1,"error":{"code":-32042,"data":"elicitations"}}"#,
        #"{"jsonrpc":"2.0","id":1,"result":{"error":{"code":-32000}},"note":-32042}"#,
        #"-32042"#,
    ])
    func nonMatching(body: String) {
        #expect(Self.scan("application/json", body).isEmpty)
    }

    @Test("a numerically equal code written differently still matches")
    func codeAsDecimal() {
        #expect(Self.scan("application/json", Self.errorMessage(code: "-32042.0", elicitations: Self.one)) == Self.expected)
    }

    @Test("a JSON body over 256 KiB is given up silently")
    func oversizeJSON() {
        let match = Self.errorMessage(elicitations: Self.one)
        let padded = "[" + match + "," + String(repeating: "1,", count: 140 * 1024) + "1]"
        #expect(padded.utf8.count > ElicitationScanner.maxDocumentBytes)
        let bytes = Array(padded.utf8)
        #expect(Self.scan("application/json", stride(from: 0, to: bytes.count, by: 4096).map { Array(bytes[$0..<min($0 + 4096, bytes.count)]) }).isEmpty)
        // Just under the limit is still looked at.
        let fits = "[" + match + "," + String(repeating: " ", count: ElicitationScanner.maxDocumentBytes - match.utf8.count - 8) + "1]"
        #expect(Self.scan("application/json", fits) == Self.expected)
    }

    @Test("other content types are ignored", arguments: ["text/plain", "text/html", "application/jsonx", "", nil] as [String?])
    func otherContentTypes(contentType: String?) {
        let scanner = ElicitationScanner(contentType: contentType)
        #expect(!scanner.isActive)
        scanner.feed(Array(Self.errorMessage(elicitations: Self.one).utf8))
        #expect(scanner.finish().isEmpty)
    }

    // MARK: - Server-sent events

    static func sse(_ newline: String) -> String {
        let match = Self.errorMessage(id: 2, elicitations: Self.one)
        let prefix = #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}"#
        let half = match.utf8.count / 2
        let first = String(decoding: Array(match.utf8)[..<half], as: UTF8.self)
        let second = String(decoding: Array(match.utf8)[half...], as: UTF8.self)
        return [
            ": keep-alive comment", "", "event: message", "id: 1", "data: " + prefix, "",
            // The match, split over two data lines (joined with a newline, still valid JSON).
            "event: message", "data:" + first, "data: " + second, "", "retry: 1000", "",
        ].joined(separator: newline)
    }

    @Test("SSE: an event's data lines are joined and parsed", arguments: ["\n", "\r\n", "\r"])
    func sseEvent(newline: String) {
        #expect(Self.scan("text/event-stream", Self.sse(newline)) == Self.expected)
    }

    @Test("SSE fed one byte at a time finds the same", arguments: ["\n", "\r\n", "\r"])
    func sseByteAtATime(newline: String) {
        let bytes = Array(Self.sse(newline).utf8)
        #expect(Self.scan("text/event-stream", bytes.map { [$0] }) == Self.expected)
    }

    @Test("SSE split into two chunks at every possible byte boundary finds the same", arguments: ["\n", "\r\n"])
    func sseEverySplit(newline: String) {
        let bytes = Array(Self.sse(newline).utf8)
        for cut in 0...bytes.count {
            let found = Self.scan("text/event-stream", [Array(bytes[..<cut]), Array(bytes[cut...])])
            #expect(found == Self.expected, "cut at \(cut)")
        }
    }

    @Test("SSE results are available per event, before the stream ends")
    func sseDrainPerEvent() {
        let scanner = ElicitationScanner(contentType: "text/event-stream")
        let event = "data: " + Self.errorMessage(elicitations: Self.one) + "\n"
        scanner.feed(Array(event.utf8))
        #expect(scanner.drain().isEmpty)  // not dispatched until the blank line
        scanner.feed(Array("\n".utf8))
        #expect(scanner.drain() == Self.expected)
        #expect(scanner.drain().isEmpty)
        let other = "data: " + Self.errorMessage(elicitations: #"[{"elicitationId":"e2","url":"https://p.example.com/"}]"#)
        scanner.feed(Array((other + "\r\n\r\n").utf8))
        #expect(scanner.drain() == [Elicitation(elicitationID: "e2", url: "https://p.example.com/")])
        #expect(scanner.finish().isEmpty)
    }

    @Test("SSE: an event left unterminated at the end is dropped, as a client would drop it")
    func sseUnterminated() {
        #expect(Self.scan("text/event-stream", "data: " + Self.errorMessage(elicitations: Self.one) + "\n").isEmpty)
    }

    @Test("SSE: an event over 256 KiB is skipped, the next one is still found")
    func sseOversizeEvent() {
        let big = "data: " + Self.errorMessage(elicitations: Self.one) + "\n" + "data: " + String(repeating: "x", count: 300 * 1024) + "\n\n"
        let hugeLine = "data: " + String(repeating: "y", count: 300 * 1024) + "\n" + "data: " + Self.errorMessage(elicitations: Self.one) + "\n\n"
        let manyLines = String(repeating: "data: " + String(repeating: "z", count: 1000) + "\n", count: 300) + "\n"
        let good = "data: " + Self.errorMessage(elicitations: #"[{"elicitationId":"after","url":"https://p.example.com/"}]"#) + "\n\n"
        let found = Self.scan("text/event-stream", big + hugeLine + manyLines + good)
        #expect(found == [Elicitation(elicitationID: "after", url: "https://p.example.com/")])
    }

    @Test("SSE: a leading byte-order mark is ignored; non-data fields never count")
    func sseBOMAndFields() {
        #expect(Self.scan("text/event-stream", "\u{FEFF}data: " + Self.errorMessage(elicitations: Self.one) + "\n\n") == Self.expected)
        #expect(Self.scan("text/event-stream", "event: " + Self.errorMessage(elicitations: Self.one) + "\n\n").isEmpty)
        #expect(Self.scan("text/event-stream", ":data: " + Self.errorMessage(elicitations: Self.one) + "\n\n").isEmpty)
        #expect(Self.scan("text/event-stream", "data : " + Self.errorMessage(elicitations: Self.one) + "\n\n").isEmpty)
    }

    @Test("a batch inside one SSE event")
    func sseBatch() {
        let body = "[" + Self.errorMessage(elicitations: Self.one) + "]"
        #expect(Self.scan("text/event-stream; charset=utf-8", "data: " + body + "\n\n") == Self.expected)
    }

    @Test("at most 16 elicitations per response")
    func resultCap() {
        let list = "[" + (0..<40).map { #"{"elicitationId":"e\#($0)","url":"https://p.example.com/"}"# }.joined(separator: ",") + "]"
        #expect(Self.scan("application/json", Self.errorMessage(elicitations: list)).count == 16)
    }

    // MARK: - Hostile bytes

    @Test("garbage, deep nesting and invalid UTF-8 never crash and find nothing", arguments: ["application/json", "text/event-stream"])
    func garbage(contentType: String) {
        var generator = SplitMix(seed: 42)
        let random = (0..<200_000).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let deep = Array(("data: " + String(repeating: "[", count: 100_000) + "-32042" + "\n\n").utf8)
        let deepObject = Array(("data: " + String(repeating: #"{"error":"#, count: 20_000) + "-32042\n\n").utf8)
        let badUTF8: [UInt8] = Array("data: {\"error\":{\"code\":-32042,\"data\":{\"elicitations\":[{\"elicitationId\":\"".utf8)
            + [0xC3, 0x28, 0xFF, 0xFE] + Array("\",\"url\":\"https://p.example.com/\"}]}}}\n\n".utf8)
        for input in [random, deep, deepObject, badUTF8, [0x0D], [0x0A, 0x0A, 0x0D, 0x0A], []] {
            var chunks: [[UInt8]] = []
            var i = 0
            while i < input.count {
                let n = Int.random(in: 1...5000, using: &generator)
                chunks.append(Array(input[i..<min(i + n, input.count)]))
                i += n
            }
            #expect(Self.scan(contentType, chunks).isEmpty)
        }
    }
}

/// A deterministic generator so that a failure can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension ElicitationScannerTests {
    // MARK: - 2026-07-28: the input-required result

    static let inputRequired = #"{"jsonrpc":"2.0","id":1,"result":{"inputRequests":{"connect-1":{"method":"elicitation/create","params":{"message":"Authorize","mode":"url","url":"https://auth.example/authorize?e=connect-1"}},"form-1":{"method":"elicitation/create","params":{"mode":"form","message":"Name?","requestedSchema":{}}},"bad":{"method":"elicitation/create","params":{"mode":"url","url":"javascript:alert(1)"}},"other":{"method":"sampling/createMessage","params":{"mode":"url","url":"https://x.example"}}},"requestState":"v1.opaque","resultType":"input_required"}}"#

    @Test("an input-required result's URL elicitations are found, keyed by their id, in JSON and SSE")
    func inputRequiredResults() {
        let expected = [Elicitation(elicitationID: "connect-1", url: "https://auth.example/authorize?e=connect-1")]
        #expect(Self.scan("application/json", Self.inputRequired) == expected)
        let sse = "event: message\r\ndata: " + Self.inputRequired + "\r\n\r\n"
        let bytes = Array(sse.utf8)
        #expect(Self.scan("text/event-stream", [Array(bytes[0..<50]), Array(bytes[50...])]) == expected)
        // A complete result of the same shape is not an elicitation.
        let complete = Self.inputRequired.replacingOccurrences(of: "input_required", with: "complete")
        #expect(Self.scan("application/json", complete).isEmpty)
    }
}
