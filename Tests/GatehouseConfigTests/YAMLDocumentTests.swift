import GatehouseCore
import Testing
@testable import GatehouseConfig

@Suite struct YAMLDocumentTests {
    private func parse(_ text: String) -> JSONValue? {
        if case .success(let v) = YAMLDocument.parse(text) { return v }
        return nil
    }

    private func failure(_ text: String) -> String? {
        if case .failure(let f) = YAMLDocument.parse(text) { return f.message }
        return nil
    }

    @Test func scalarsKeepYAMLTyping() {
        let value = parse("""
            a: 60
            b: "60"
            c: true
            d: 1.5
            e: ~
            f: text
            g: 0x10
            h: 2024-01-01
            "1": key is text
            i: 'true'
            j: !!str 60
            k: !!int "60"
            l: ! 60
            m: [1, "1", null, off]
            n: Yes
            """)
        #expect(value == .object([
            "a": .number("60"), "b": .string("60"), "c": .bool(true), "d": .number("1.5"), "e": .null,
            "f": .string("text"), "g": .number("16"), "h": .string("2024-01-01"), "1": .string("key is text"),
            "i": .string("true"), "j": .string("60"), "k": .string("60"), "l": .string("60"),  // quoted is text, even tagged
            "m": .array([.number("1"), .string("1"), .null, .bool(false)]), "n": .bool(true),
        ]))
    }

    @Test func emptyDocumentIsAnEmptyMap() {
        #expect(parse("") == .object([:]))
        #expect(parse("# only a comment\n") == .object([:]))
    }

    @Test func duplicateKeysAreRefused() {
        #expect(failure("a: 1\na: 2\n")?.contains("duplicate key") == true)
        #expect(failure("1: a\n\"1\": b\n")?.contains("duplicate key") == true)
    }

    @Test func severalDocumentsAreRefused() {
        #expect(failure("a: 1\n---\nb: 2\n") != nil)
    }

    @Test func aliasBombIsRefused() {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 {
            let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
            yaml += "a\(i): &a\(i) [\(refs)]\n"
        }
        #expect(failure(yaml)?.contains("more than") == true)
    }

    @Test func deepNestingIsRefused() {
        let yaml = "a: " + String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        #expect(failure(yaml)?.contains("nested deeper") == true)
    }

    @Test func complexKeysAreRefused() {
        #expect(failure("? [a, b]\n: c\n") != nil)
    }

    @Test func syntaxErrorsNameTheLine() {
        #expect(failure("a: 1\nb: [\n")?.hasPrefix("invalid YAML at line") == true)
    }
}
