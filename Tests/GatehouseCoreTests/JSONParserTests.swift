import GatehouseCore
import Testing

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let v = try JSONParser.parse(#"{"a":[1,2.5,-3e2,true,false,null,"x\u00e9\n"],"b":{}}"#)
        #expect(v["a"]?.arrayValue?.count == 7)
        #expect(v["a"]?.arrayValue?[0] == .number("1"))
        #expect(v["a"]?.arrayValue?[2] == .number("-3e2"))
        #expect(v["a"]?.arrayValue?[6] == .string("xé\n"))
        #expect(v["b"] == .object([:]))
    }

    @Test func keepsNumberTextForPropagation() throws {
        let v = try JSONParser.parse(#"{"exp":1700000000}"#)
        #expect(v["exp"] == .number("1700000000"))
    }

    @Test func refusesDuplicateKeys() {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(#"{"sub":"alice","sub":"admin"}"#) }
    }

    @Test func refusesDeepNestingWithoutCrashing() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(deep) }
    }

    @Test func refusesOversizeDocuments() {
        let big = "\"" + String(repeating: "a", count: 2000) + "\""
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(big, limits: .init(maxDepth: 8, maxBytes: 1000)) }
    }

    @Test(arguments: [
        "", "{", "}", "[1,]", "{\"a\":}", "01", "1.", "-", "tru", "\"\\x\"", "\"\u{01}\"", "{\"a\" 1}", "[1 2]", "nul",
        "\"\\ud800\"", "\"unterminated", "{} {}", "NaN", "Infinity", "'a'",
    ])
    func refusesMalformedInput(_ text: String) {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(text) }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse([0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test func decodesSurrogatePairs() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
    }

    @Test func compactTextRoundTrips() throws {
        let text = #"{"a":[1,"x\"y"],"b":{"c":null}}"#
        let v = try JSONParser.parse(text)
        #expect(v.compactText == text)
        #expect(try JSONParser.parse(v.compactText) == v)
    }

    @Test func semanticEqualityComparesNumbersByValue() {
        #expect(JSONValue.number("1").semanticallyEquals(.number("1.0")))
        #expect(!JSONValue.number("1").semanticallyEquals(.string("1")))
    }
}
