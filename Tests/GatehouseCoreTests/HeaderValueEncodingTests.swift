import GatehouseCore
import Testing

@Suite struct HeaderValueEncodingTests {
    @Test func stringsGoAsTheyAre() {
        #expect(HeaderValueEncoding.encode(.string("alice@example.com")) == "alice@example.com")
    }

    @Test func numbersAndBooleansAsJSONText() {
        #expect(HeaderValueEncoding.encode(.number("42")) == "42")
        #expect(HeaderValueEncoding.encode(.number("1.5e3")) == "1.5e3")
        #expect(HeaderValueEncoding.encode(.bool(true)) == "true")
    }

    @Test func stringArraysJoinWithCommas() {
        #expect(HeaderValueEncoding.encode(.array([.string("admin"), .string("ops")])) == "admin,ops")
    }

    @Test func otherArraysAndObjectsAsCompactJSON() {
        #expect(HeaderValueEncoding.encode(.array([.string("a"), .number("1")])) == #"["a",1]"#)
        #expect(HeaderValueEncoding.encode(.object(["k": .string("v")])) == #"{"k":"v"}"#)
    }

    @Test(arguments: ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\u{0}b", "tab\there", "del\u{7F}", "c1\u{85}x"])
    func controlCharactersAreNeverSent(_ value: String) {
        #expect(HeaderValueEncoding.encode(.string(value)) == nil)
    }

    @Test func controlCharactersInsideJSONAreEscapedNotSent() {
        // Compact JSON escapes control characters, so an object holding one is safe to send.
        let encoded = HeaderValueEncoding.encode(.object(["k": .string("a\nb")]))
        #expect(encoded == #"{"k":"a\nb"}"#)
    }

    @Test func unicodeLineSeparatorsArePercentEncodedNotRaw() {
        #expect(HeaderValueEncoding.encode(.string("a\u{2028}b")) == "a%E2%80%A8b")
    }

    @Test func nonASCIIIsPercentEncoded() {
        #expect(HeaderValueEncoding.encode(.string("José")) == "Jos%C3%A9")
        #expect(HeaderValueEncoding.encode(.string("日本")) == "%E6%97%A5%E6%9C%AC")
    }
}
