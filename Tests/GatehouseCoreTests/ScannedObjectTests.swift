import GatehouseCore
import Testing

/// The one-pass scanner must give the verdict `JSONParser.parse` gives, on every input, and the
/// same values where both accept.
@Suite struct ScannedObjectTests {
    static let corpus: [String] = [
        #"{}"#, #" { } "#, #"{"a":1}"#, #"{"iss":"https://idp.example","sub":"alice","exp":1700000000,"aud":["api","x"]}"#,
        #"{"a":[1,2.5,-3e2,true,false,null,"x\u00e9\n"],"b":{"c":{"d":[{}]}}}"#,
        #"{"s":"caf\u00e9","t":"café","u":"\ud83d\ude00","v":"a\"b\\c\/d\b\f\n\r\t"}"#,
        #"{"n":-0,"m":0.5e-3,"o":1E+2}"#, #"{"x":{"a":1,"a":2}}"#, #"{"a":1,"a":2}"#, #"{"a":1,"b":[{"a":1,"a":1}]}"#,
        #"{"é":1,"e\u0301":2}"#, #"{"e\u0301":1,"é":2}"#, #"[1,2]"#, #""str""#, #"17"#, #"null"#, #"true"#,
        #"{"a":01}"#, #"{"a":1.}"#, #"{"a":-}"#, #"{"a":"\x"}"#, #"{"a":"\ud800"}"#, #"{"a":"\udc00"}"#,
        #"{"a":"\ud800\u0041"}"#, #"{"a" 1}"#, #"{"a":1,}"#, #"{"a":1}}"#, #"{"a":1} x"#, #"{,}"#, #"{"a":[1,]}"#,
        #"{"a":tru}"#, #"{"a":nul}"#, #"{"a":NaN}"#, #"{'a':1}"#, #"{"a":"unterminated}"#, #"{"a":"\u12"}"#,
        "{\"a\":\"\u{01}\"}", "{\"a\":\"tab\there\"}", #"{"a":"\u0000"}"#, #"{"a":1e400}"#,
        "{" + (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}",
        "{" + (0..<40).map { "\"k\($0 % 39)\":\($0)" }.joined(separator: ",") + "}",
        "{\"d\":" + String(repeating: "[", count: 31) + String(repeating: "]", count: 31) + "}",
        "{\"d\":" + String(repeating: "[", count: 32) + String(repeating: "]", count: 32) + "}",
        "{\"d\":" + String(repeating: "{\"a\":", count: 40) + "1" + String(repeating: "}", count: 40) + "}",
        "{\"n\":" + String(repeating: "9", count: 65) + "}",
    ]

    static let limits = JSONParser.Limits(maxDepth: 32, maxBytes: 4096)

    /// Both readers on the same bytes: the same verdict, and where they accept, the same object.
    static func agree(_ bytes: [UInt8]) -> (Bool, String) {
        let parsed = try? JSONParser.parse(bytes, limits: limits)
        let scanned: ScannedObject??
        do { scanned = .some(try JSONParser.scanObject(bytes, limits: limits)) } catch { scanned = .none }
        switch (parsed, scanned) {
        case (nil, nil): return (true, "both refuse")
        case (let p?, let s??): return (p.objectValue != nil && s.value == p, "object")
        case (let p?, .some(.none)): return (p.objectValue == nil, "valid, not an object")
        default: return (false, "verdicts differ: parse \(parsed == nil ? "refuses" : "accepts")")
        }
    }

    @Test(arguments: corpus)
    func agreesWithTheTreeParser(_ text: String) {
        let (same, what) = Self.agree(Array(text.utf8))
        #expect(same, "\(what): \(text)")
    }

    @Test func agreesOnInvalidUTF8AndOnSizeLimits() {
        for bytes: [UInt8] in [
            [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D],  // {"a":"<FF>"}
            [0x7B, 0x22, 0xC3, 0x22, 0x3A, 0x31, 0x7D],  // a truncated key
            [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x7D],  // an encoded surrogate
            [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC0, 0xAF, 0x22, 0x7D],  // overlong
            Array(("{\"a\":\"" + String(repeating: "x", count: 5000) + "\"}").utf8),
        ] {
            let (same, what) = Self.agree(bytes)
            #expect(same, "\(what): \(bytes.prefix(16))")
        }
    }

    /// Every corpus entry with one byte replaced, inserted or removed, at every position, with
    /// bytes that matter to JSON: about 60,000 inputs, most of them refused.
    @Test func agreesOnMutatedInputs() {
        let alphabet: [UInt8] = Array("{}[]\",:\\u0123456789abcdefnrtE+-. ".utf8) + [0x00, 0x01, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xFF]
        var checked = 0
        var differing: [String] = []
        for text in Self.corpus where text.utf8.count < 200 {
            let base = Array(text.utf8)
            for i in 0...base.count {
                var removed = base
                if i < base.count { removed.remove(at: i) }
                var variants = [removed]
                for b in alphabet {
                    var inserted = base
                    inserted.insert(b, at: i)
                    variants.append(inserted)
                    if i < base.count {
                        var replaced = base
                        replaced[i] = b
                        variants.append(replaced)
                    }
                }
                for variant in variants {
                    checked += 1
                    if !Self.agree(variant).0, differing.count < 5 { differing.append(String(decoding: variant, as: UTF8.self)) }
                }
            }
        }
        #expect(checked > 50_000)
        #expect(differing.isEmpty, "\(differing)")
    }

    @Test func readsMembersWithoutATree() throws {
        let object = try #require(
            try JSONParser.scanObject(Array(#"{"iss":"https://i","exp":1700000000.5,"e":"a\u00e9","aud":["x",1],"o":{"k":[true]}}"#.utf8)))
        #expect(object.count == 5)
        #expect(object.keys == ["iss", "exp", "e", "aud", "o"])
        #expect(object.string("iss") == "https://i")
        #expect(object.string("e") == "aé")
        #expect(object.string("exp") == nil)
        #expect(object.number("exp") == 1_700_000_000.5)
        #expect(object.number("iss") == nil)
        #expect(object.kind(of: "aud") == .array)
        #expect(object.kind(of: "o") == .object)
        #expect(object.kind(of: "missing") == nil)
        #expect(object["aud"] == .array([.string("x"), .number("1")]))
        #expect(object["o"] == .object(["k": .array([.bool(true)])]))
        #expect(object["exp"] == .number("1700000000.5"))
    }

    @Test func equalityIsByValueNotBySpacing() throws {
        let a = try #require(try JSONParser.scanObject(Array(#"{"a":1,"b":[2]}"#.utf8)))
        let b = try #require(try JSONParser.scanObject(Array(#" { "b" : [ 2 ] , "a" : 1 } "#.utf8)))
        let c = try #require(try JSONParser.scanObject(Array(#"{"a":1,"b":[3]}"#.utf8)))
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a != c)
        #expect(ScannedObject(.object(["a": .number("1"), "b": .array([.number("2")])])) == a)
        #expect(ScannedObject(.string("not an object")) == .empty)
    }
}
