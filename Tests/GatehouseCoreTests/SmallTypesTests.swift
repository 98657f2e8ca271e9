import GatehouseCore
import Testing

@Suite struct Base64URLTests {
    @Test func roundTrips() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(($0 * 37 + 11) & 0xFF) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
    }

    @Test(arguments: ["a", "ab=", "a+b/", "ab c", "AB==", "A"])
    func refusesNonCanonicalInput(_ text: String) {
        #expect(Base64URL.decode(text) == nil)
    }

    @Test func refusesNonZeroTrailingBits() {
        // "QQ" is "A"; "QR" has the same first byte but stray trailing bits.
        #expect(Base64URL.decode("QQ") == [0x41])
        #expect(Base64URL.decode("QR") == nil)
    }
}

@Suite struct HeaderNameTests {
    @Test func canonicalFoldsCaseAndUnderscores() {
        #expect(HeaderName.canonical("X_User_ID") == "x-user-id")
        #expect(HeaderName.canonical("x-user-id") == "x-user-id")
    }

    @Test func matchesAgreesWithCanonical() {
        for name in ["X_User_ID", "x-user-id", "X-USER-ID", "x-user-i", "y-user-id", "x_user_idd"] {
            #expect(HeaderName.matches(name, canonical: "x-user-id") == (HeaderName.canonical(name) == "x-user-id"))
        }
    }

    @Test func validatesTokens() {
        #expect(HeaderName.isValid("X-User-Id"))
        #expect(!HeaderName.isValid("X User"))
        #expect(!HeaderName.isValid("X:User"))
        #expect(!HeaderName.isValid(""))
    }
}

@Suite struct TenantIDTests {
    @Test(arguments: ["acme", "a", "acme-2", "0x"]) func accepts(_ s: String) { #expect(TenantID(s) != nil) }
    @Test(arguments: ["", "-acme", "Acme", "acme_1", "a.b", String(repeating: "a", count: 64), "ac/me"])
    func refuses(_ s: String) { #expect(TenantID(s) == nil) }
}

@Suite struct ParsedURLTests {
    @Test func parsesComponents() throws {
        let u = try #require(ParsedURL("https://Example.com:8443/a/b?x=1#f"))
        #expect(u.scheme == "https")
        #expect(u.host == "example.com")
        #expect(u.port == 8443)
        #expect(u.path == "/a/b")
        #expect(u.query == "x=1")
        #expect(u.fragment == "f")
    }

    @Test func parsesIPv6Literals() throws {
        let u = try #require(ParsedURL("http://[::1]:7001"))
        #expect(u.host == "::1")
        #expect(u.authority == "[::1]:7001")
    }

    @Test(arguments: ["", "example.com", "//example.com", "https://", "https://a b", "https://a\\b", "https://a:99999", "https://a:x", "1http://a"])
    func refusesOddURLs(_ s: String) { #expect(ParsedURL(s) == nil) }

    @Test func upstreamRefusesUserInfoAndQuery() {
        #expect(Upstream(url: "http://user:pw@host") == nil)
        #expect(Upstream(url: "http://host/?q") == nil)
        #expect(Upstream(url: "ftp://host") == nil)
        #expect(Upstream(url: "http://127.0.0.1:7001/base/")?.basePath == "/base")
    }
}

@Suite struct ConfigSnapshotTests {
    @Test func pathPrefixesMatchOnSegmentBoundaries() throws {
        let up = try #require(Upstream(url: "http://127.0.0.1:1"))
        let a = Tenant(id: TenantID("acme")!, displayName: "A", match: TenantMatch(pathPrefix: "/t/acme"), idps: [], upstreams: [up])
        let snap = ConfigSnapshot(settings: GatehouseSettings(), tenants: [a])
        #expect(snap.tenant(forPath: "/t/acme")?.tenant.rawValue == "acme")
        #expect(snap.tenant(forPath: "/t/acme/x")?.tenant.rawValue == "acme")
        #expect(snap.tenant(forPath: "/t/acmex") == nil)
        #expect(snap.tenant(forPath: "/t") == nil)
        #expect(snap.tenant(forPath: "/t/acme?next=/t/globex")?.prefix == "/t/acme")
        #expect(snap.tenant(forPath: "/x?q=/t/acme") == nil, "a prefix in the query is not a match")
        #expect(snap.tenant(forPath: "/t/acme//x")?.tenant.rawValue == "acme")
        #expect(snap.tenant(forPath: "") == nil)
        #expect(snap.tenant(forPath: "/") == nil)
    }

    @Test func theLongestPrefixWinsAmongManyTenants() throws {
        let up = try #require(Upstream(url: "http://127.0.0.1:1"))
        var tenants = (0..<2000).map { i in
            Tenant(id: TenantID("t\(i)")!, displayName: "T", match: TenantMatch(pathPrefix: "/p/\(i)"), idps: [], upstreams: [up])
        }
        tenants.append(Tenant(id: TenantID("deep")!, displayName: "D", match: TenantMatch(pathPrefix: "/p/7/deep"), idps: [], upstreams: [up]))
        let snap = ConfigSnapshot(settings: GatehouseSettings(), tenants: tenants)
        #expect(snap.tenant(forPath: "/p/1999/mcp")?.tenant.rawValue == "t1999")
        #expect(snap.tenant(forPath: "/p/7/deep/mcp")?.tenant.rawValue == "deep")
        #expect(snap.tenant(forPath: "/p/7/deeper")?.tenant.rawValue == "t7")
        #expect(snap.tenant(forPath: "/p/2000") == nil)
    }
}

@Suite struct MetricsTests {
    @Test func rendersPrometheusTextWithEscapedLabels() {
        let registry = MetricsRegistry()
        let c = registry.counter("x_total", help: "X.", labels: ["tenant"])
        c.increment(["a\"b"])
        let h = registry.histogram("lat_seconds", help: "L.", labels: [], buckets: [0.1, 1])
        h.observe([], 0.5)
        let text = registry.render()
        #expect(text.contains(#"x_total{tenant="a\"b"} 1"#))
        #expect(text.contains(#"lat_seconds_bucket{le="0.1"} 0"#))
        #expect(text.contains(#"lat_seconds_bucket{le="1"} 1"#))
        #expect(text.contains(#"lat_seconds_bucket{le="+Inf"} 1"#))
        #expect(text.contains("lat_seconds_count 1"))
    }
}
