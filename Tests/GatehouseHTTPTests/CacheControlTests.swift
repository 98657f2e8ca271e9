import GatehouseHTTP
import NIOHTTP1
import Testing

@Suite("Cache-Control max-age")
struct CacheControlTests {
    @Test("well-formed max-age values are read", arguments: [
        ("max-age=300", 300), ("public, max-age=60", 60), ("MAX-AGE=5, must-revalidate", 5), ("max-age=\"42\"", 42),
        ("no-cache, max-age=0", 0), ("max-age=99999999999999999999", Int(Int32.max)),
    ])
    func parses(_ header: String, _ expected: Int) {
        #expect(CacheControl.maxAge(["Cache-Control": header]) == expected)
    }

    @Test("absent or malformed max-age is nil", arguments: [
        "", "no-store", "max-age", "max-age=", "max-age=-1", "max-age=1.5", "max-age=abc", "s-maxage=10", "max-age=10, max-age=20",
    ])
    func rejects(_ header: String) {
        #expect(CacheControl.maxAge(["Cache-Control": header]) == nil)
    }

    @Test("no Cache-Control header at all")
    func missing() {
        #expect(CacheControl.maxAge([:]) == nil)
    }
}

@Suite("Form URL encoding")
struct FormURLEncodingTests {
    @Test("pairs decode with + as space and percent escapes")
    func decode() {
        let pairs = FormURLEncoding.parse("sub=alice&scope=read+write&x=%41%zz&flag&sub=bob")
        let values = FormURLEncoding.firstValues(pairs)
        #expect(values["sub"] == "alice")
        #expect(values["scope"] == "read write")
        #expect(values["x"] == "A%zz")
        #expect(values["flag"] == "")
    }

    @Test("encode then parse gives the same pairs back")
    func roundTrip() {
        let encoded = FormURLEncoding.encode([("a b", "c&d=e"), ("ü", "/")])
        #expect(encoded == "a%20b=c%26d%3De&%C3%BC=%2F")
        let back = FormURLEncoding.parse(encoded)
        #expect(back.map(\.name) == ["a b", "ü"])
        #expect(back.map(\.value) == ["c&d=e", "/"])
    }
}
