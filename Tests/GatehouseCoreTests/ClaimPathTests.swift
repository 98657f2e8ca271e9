import GatehouseCore
import Testing

@Suite struct ClaimPathTests {
    let claims: JSONValue = try! JSONParser.parse(
        #"{"sub":"alice","custom:tenant_id":"acme","identities":[{"userId":"g-123"}],"https://example.com/roles":["admin","ops"],"a":{"b.c":{"d":1}}}"#
    )

    @Test func resolvesPlainNames() throws {
        #expect(try ClaimPath("sub").resolve(in: claims) == .string("alice"))
    }

    @Test func colonNamesNeedNoQuotes() throws {
        #expect(try ClaimPath("custom:tenant_id").resolve(in: claims) == .string("acme"))
    }

    @Test func indexesArrays() throws {
        #expect(try ClaimPath("identities[0].userId").resolve(in: claims) == .string("g-123"))
        #expect(try ClaimPath("identities[1].userId").resolve(in: claims) == nil)
    }

    @Test func quotedNamesHoldDotsAndSlashes() throws {
        #expect(try ClaimPath("['https://example.com/roles']").resolve(in: claims)?.arrayValue?.count == 2)
        #expect(try ClaimPath("a['b.c'].d").resolve(in: claims) == .number("1"))
    }

    @Test func absentOrWrongKindIsNil() throws {
        #expect(try ClaimPath("missing").resolve(in: claims) == nil)
        #expect(try ClaimPath("sub.x").resolve(in: claims) == nil)
        #expect(try ClaimPath("sub[0]").resolve(in: claims) == nil)
    }

    /// Propagation resolves paths in the scanned claims: the same answers as in the tree.
    @Test(arguments: [
        "sub", "custom:tenant_id", "identities[0].userId", "identities[1].userId", "['https://example.com/roles']",
        "a['b.c'].d", "missing", "sub.x", "sub[0]", "a", "identities",
    ])
    func resolvesTheSameInScannedClaims(_ text: String) throws {
        let scanned = try #require(try JSONParser.scanObject(Array(claims.compactText.utf8)))
        let path = try ClaimPath(text)
        #expect(path.resolve(in: scanned) == path.resolve(in: claims))
    }

    @Test(arguments: ["", ".", "a.", ".a", "a..b", "a[", "a[x]", "a[-1]", "a['b", "a[''']", "a]b", "a'b", "a[0]b"])
    func refusesMalformedPaths(_ text: String) {
        #expect(throws: ClaimPath.ParseError.self) { try ClaimPath(text) }
    }
}
