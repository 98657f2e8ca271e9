import NIOCore
import Testing

@testable import GatehouseProxy

/// The request head parser, rule by rule (RFC 9112 2–5; docs/http.md "Framing").
struct RequestHeadParserTests {
    enum Parsed {
        case head(RequestHead, consumed: Int)
        case needMore
        case failure(HTTPParseError.Code)
    }

    static func parse(_ text: String, maxHeadBytes: Int = 32768, maxFields: Int = 256) -> Parsed {
        parse(Array(text.utf8), maxHeadBytes: maxHeadBytes, maxFields: maxFields)
    }

    static func parse(_ bytes: [UInt8], maxHeadBytes: Int = 32768, maxFields: Int = 256) -> Parsed {
        var parser = RequestHeadParser(maxHeadBytes: maxHeadBytes, maxFields: maxFields)
        var buffer = ByteBuffer(bytes: bytes)
        switch parser.parse(buffer) {
        case .needMore: return .needMore
        case .failure(let e): return .failure(e.code)
        case .complete(let length): return .head(parser.take(length: length, from: &buffer), consumed: length)
        }
    }

    static func head(_ text: String) throws -> RequestHead {
        guard case .head(let h, _) = parse(text) else { throw ParseFailed(text: text) }
        return h
    }

    struct ParseFailed: Error { let text: String }

    @Test func aSimpleHeadIsReadInPlace() throws {
        let h = try Self.head("GET /a/b?c=d HTTP/1.1\r\nHost: acme.test\r\nX-Thing:  spaced value \t\r\nContent-Length: 0\r\n\r\n")
        #expect(h.method == .get)
        #expect(h.methodName == "GET")
        #expect(h.target == "/a/b?c=d")
        #expect(h.minorVersion == 1)
        #expect(h.fields.count == 3)
        #expect(h.name(h.fields[0]) == "Host" && h.value(h.fields[0]) == "acme.test" && h.fields[0].kind == .host)
        #expect(h.value(h.fields[1]) == "spaced value", "optional whitespace is not part of the value")
        #expect(h.fields[1].padded && !h.fields[0].padded, "whitespace after a value is noted (framing fields must be exact)")
        #expect(h.fields[2].kind == .contentLength)
    }

    @Test func knownFieldsAreRecognisedInAnyLetterCaseButNotWithUnderscores() throws {
        let h = try Self.head("GET / HTTP/1.1\r\nhOsT: x\r\nTRANSFER-encoding: chunked\r\nContent_Length: 5\r\nX_User_Id: m\r\n\r\n")
        #expect(h.fields.map(\.kind) == [.host, .transferEncoding, .other, .other])
        #expect(h.fields[2].hasUnderscore && h.fields[3].hasUnderscore)
        #expect(h.fields[3].foldedHash == HTTPBytes.foldedHash("x-user-id".utf8))
    }

    @Test func aHeadSplitAtEveryByteParsesTheSame() throws {
        let text = "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        let whole = try Self.head(text)
        let bytes = Array(text.utf8)
        for split in 1..<bytes.count {
            var parser = RequestHeadParser(maxHeadBytes: 32768)
            var buffer = ByteBuffer(bytes: bytes[0..<split])
            var outcome = parser.parse(buffer)
            buffer.writeBytes(bytes[split...])
            if case .needMore = outcome { outcome = parser.parse(buffer) }
            guard case .complete(let length) = outcome else {
                Issue.record("split at \(split): \(outcome)")
                continue
            }
            let h = parser.take(length: length, from: &buffer)
            #expect(h.fields == whole.fields && h.target == whole.target, "split at \(split)")
            #expect(buffer.readableBytes == bytes.count - length)
        }
    }

    @Test func emptyLinesBeforeTheRequestLineAreSkipped() throws {
        let h = try Self.head("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(h.target == "/")
        if case .failure(let code) = Self.parse("\n\nGET / HTTP/1.1\r\n\r\n") { #expect(code == .bareLF) } else { Issue.record("bare LF accepted") }
    }

    static let refused: [(String, HTTPParseError.Code)] = [
        ("GET  / HTTP/1.1\r\n\r\n", .badRequestLine),
        ("GET / HTTP/1.1 \r\n\r\n", .badRequestLine),
        ("GET /\tx HTTP/1.1\r\n\r\n", .badTarget),
        ("G@T / HTTP/1.1\r\n\r\n", .badMethod),
        (" GET / HTTP/1.1\r\n\r\n", .badMethod),
        ("GET / HTTP/2.0\r\n\r\n", .unsupportedVersion),
        ("GET / HTTP/1.2\r\n\r\n", .unsupportedVersion),
        ("GET / HTTP/1.1x\r\n\r\n", .badRequestLine),
        ("GET / HTTX/1.1\r\n\r\n", .badRequestLine),
        ("GET / http/1.1\r\n\r\n", .badRequestLine),
        ("GET / HTTP/1.1\n\r\n", .badRequestLine),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", .whitespaceBeforeColon),
        ("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", .whitespaceBeforeColon),
        ("GET / HTTP/1.1\r\n: x\r\n\r\n", .emptyFieldName),
        ("GET / HTTP/1.1\r\nHo(st: x\r\n\r\n", .badFieldName),
        ("GET / HTTP/1.1\r\nHost x\r\n\r\n", .whitespaceBeforeColon),
        ("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", .obsFold),
        ("GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n", .obsFold),
        ("GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n", .bareCR),
        ("GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", .bareLF),
        ("GET / HTTP/1.1\r\nHost: x\r\n\n", .bareLF),
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\r", .bareCR),
        ("GET / HTTP/1.1\r\nHost: a\u{0}b\r\n\r\n", .badFieldValue),
        ("GET / HTTP/1.1\r\nHost: a\u{7F}b\r\n\r\n", .badFieldValue),
        ("GET / HTTP/1.1\r\nHost: a\u{1}b\r\n\r\n", .badFieldValue),
        ("GET / HTTP/1.1\r\nHost\r\n\r\n", .badFieldName),
        ("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", .badRequestLine),
    ]

    @Test(arguments: 0..<refused.count)
    func malformedHeadsAreRefused(_ index: Int) {
        let (text, expected) = Self.refused[index]
        switch Self.parse(text) {
        case .failure(let code): #expect(code == expected, "\(text.debugDescription)")
        case .needMore: Issue.record("\(text.debugDescription): wanted more bytes instead of \(expected)")
        case .head: Issue.record("\(text.debugDescription) was accepted")
        }
    }

    /// Values are read eight bytes at a time where they can be: a bad byte or trailing spaces at
    /// any position of a long value, in any alignment, give the verdict and value the
    /// byte-at-a-time rules give.
    @Test func longValuesAreCheckedAtEveryPositionAndAlignment() throws {
        let value = Array("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ".utf8)
        for pad in 0..<8 {
            let prefix = Array("GET / HTTP/1.1\r\nHost: h\r\nX\(String(repeating: "y", count: pad)): ".utf8)
            for position in 0..<value.count {
                for (bad, code) in [(UInt8(0x00), HTTPParseError.Code.badFieldValue), (0x01, .badFieldValue), (0x1F, .badFieldValue),
                    (0x7F, .badFieldValue), (0x0A, .bareLF), (0x0D, .bareCR)] {
                    var v = value
                    v[position] = bad
                    guard case .failure(let got) = Self.parse(prefix + v + Array("\r\n\r\n".utf8)) else {
                        Issue.record("byte \(bad) at \(position) (pad \(pad)) was accepted")
                        continue
                    }
                    #expect(got == code, "byte \(bad) at \(position) (pad \(pad))")
                }
                // Spaces from `position` on are trailing whitespace (all of it leading when it is
                // the whole value); a tab inside is kept, one at either end is not.
                var spaced = value
                for k in position..<value.count { spaced[k] = 0x20 }
                let h = try #require(try? Self.head(String(decoding: prefix + spaced + Array("\r\n\r\n".utf8), as: UTF8.self)))
                #expect(h.value(h.fields[1]) == String(decoding: value[..<position], as: UTF8.self), "pad \(pad), spaces from \(position)")
                #expect(h.fields[1].padded == (position > 0))
                var tabbed = value
                tabbed[position] = 0x09
                let t = try #require(try? Self.head(String(decoding: prefix + tabbed + Array("\r\n\r\n".utf8), as: UTF8.self)))
                let atAnEnd = position == 0 || position == value.count - 1
                #expect(t.value(t.fields[1]).utf8.count == (atAnEnd ? value.count - 1 : value.count))
            }
        }
    }

    @Test func connectionTokensAreReadFromTheBytes() throws {
        let h = try Self.head("GET / HTTP/1.1\r\nHost: h\r\nConnection: ,Keep-Alive , X-Secret,,\tCLOSE\t, Upgrade\r\n\r\n")
        let tokens = h.connectionTokens(h.fields[1])
        #expect(tokens.close && tokens.keepAlive)
        #expect(tokens.others == ["x-secret", "upgrade"])
        let empty = try Self.head("GET / HTTP/1.1\r\nHost: h\r\nConnection: , ,\r\n\r\n")
        let none = empty.connectionTokens(empty.fields[1])
        #expect(!none.close && !none.keepAlive && none.others.isEmpty)
    }

    @Test func obsTextInValuesIsKept() throws {
        let h = try Self.head("GET / HTTP/1.1\r\nX-Name: caf\u{E9}\r\n\r\n")
        #expect(h.value(h.fields[0]) == "café")
    }

    @Test func sizeAndCountLimitsAre431() {
        let big = "GET / HTTP/1.1\r\nX-A: " + String(repeating: "a", count: 5000) + "\r\n\r\n"
        if case .failure(let code) = Self.parse(big, maxHeadBytes: 4096) { #expect(code == .headTooLarge) } else { Issue.record("accepted") }
        // A head that has not ended within the limit fails as soon as the limit is reached.
        let unfinished = "GET / HTTP/1.1\r\nX-A: " + String(repeating: "a", count: 5000)
        if case .failure(let code) = Self.parse(unfinished, maxHeadBytes: 4096) { #expect(code == .headTooLarge) } else { Issue.record("waited") }
        let many = "GET / HTTP/1.1\r\n" + String(repeating: "X-A: b\r\n", count: 20) + "\r\n"
        if case .failure(let code) = Self.parse(many, maxFields: 10) { #expect(code == .tooManyFields) } else { Issue.record("accepted") }
        #expect(HTTPParseError(.headTooLarge).status == 431 && HTTPParseError(.unsupportedVersion).status == 505)
    }

    @Test func incompleteHeadsWaitForMore() {
        for text in ["G", "GET", "GET /", "GET / HTTP/1", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\nHost: x", "GET / HTTP/1.1\r\nHost: x\r\n\r"] {
            if case .needMore = Self.parse(text) {} else { Issue.record("\(text.debugDescription) did not wait") }
        }
    }

    @Test func methodsAreCaseSensitive() throws {
        #expect(try Self.head("get / HTTP/1.1\r\n\r\n").method == .other)
        #expect(try Self.head("PURGE / HTTP/1.1\r\n\r\n").methodName == "PURGE")
        for (m, kind) in [("HEAD", RequestMethod.head), ("POST", .post), ("PUT", .put), ("DELETE", .delete), ("PATCH", .patch),
            ("OPTIONS", .options), ("TRACE", .trace), ("CONNECT", .connect)]
        {
            #expect(try Self.head("\(m) / HTTP/1.1\r\n\r\n").method == kind)
        }
    }
}
