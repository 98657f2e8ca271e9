import GatehouseCore
import Synchronization
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

    /// Bit by bit, one character at a time: the reference the table decoder is checked against.
    static func reference(_ text: [UInt8]) -> [UInt8]? {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        if text.count % 4 == 1 { return nil }
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for c in text {
            guard let v = alphabet.firstIndex(of: c) else { return nil }
            buffer = buffer << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        if bits > 0, buffer & ((1 << UInt32(bits)) - 1) != 0 { return nil }
        return out
    }

    @Test func agreesWithABitByBitDecoderOnEveryShortInputAndOnMutations() {
        let letters = Array("AQgw_-9z=+/. ".utf8) + [0x00, 0x80, 0xFF]
        var inputs: [[UInt8]] = [[]]
        var frontier: [[UInt8]] = [[]]
        for _ in 0..<4 {
            frontier = frontier.flatMap { prefix in letters.map { prefix + [$0] } }
            inputs += frontier
        }
        let long = Array(Base64URL.encode((0..<50).map { UInt8(($0 * 91 + 7) & 0xFF) }).utf8)
        for n in [long.count, long.count - 1, long.count - 2, long.count - 3] {
            for i in 0..<n {
                for c in letters {
                    var mutated = Array(long[..<n])
                    mutated[i] = c
                    inputs.append(mutated)
                }
            }
        }
        var differing = 0
        for input in inputs where Base64URL.decode(input) != Self.reference(input) { differing += 1 }
        #expect(inputs.count > 70_000)
        #expect(differing == 0)
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

@Suite("AsyncLimiter")
struct AsyncLimiterTests {
    /// Operations that each wait for their own release, recording how many run at once.
    final class Probe: Sendable {
        let state = Mutex<(running: Int, most: Int, order: [Int], gates: [Int: CheckedContinuation<Void, Never>])>((0, 0, [], [:]))

        func operation(_ n: Int) async {
            await withCheckedContinuation { continuation in
                state.withLock { s in
                    s.running += 1
                    s.most = max(s.most, s.running)
                    s.order.append(n)
                    s.gates[n] = continuation
                }
            }
            state.withLock { $0.running -= 1 }
        }

        func started(_ n: Int) -> Bool { state.withLock { $0.gates[n] != nil || $0.order.contains(n) } }
        var order: [Int] { state.withLock { $0.order } }
        var most: Int { state.withLock { $0.most } }

        func finish(_ n: Int) {
            let gate = state.withLock { $0.gates.removeValue(forKey: n) }
            gate?.resume()
        }
    }

    /// Waits (bounded by time, not by a count of sleeps that a loaded machine stretches) for `condition`.
    static func until(_ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return await condition()
    }

    /// Lets every operation `0..<count` finish, even those that start late, so that a failed
    /// expectation above ends the test instead of leaving it waiting for ever.
    static func releaseAll(_ probe: Probe, count: Int) async {
        _ = await until {
            for n in 0..<count { probe.finish(n) }
            return probe.order.count == count
        }
        for n in 0..<count { probe.finish(n) }
    }

    @Test("never more than the limit at once; waiters in arrival order, urgent and promoted ones first")
    func ordering() async {
        let limiter = AsyncLimiter(limit: 2)
        let probe = Probe()
        var tasks: [Task<Void, Never>] = []
        let tickets = (0..<6).map { _ in limiter.ticket() }
        // 0 and 1 run; 2, 3, 4 queue in that order.
        for n in 0..<5 {
            tasks.append(Task { await limiter.run(tickets[n]) { await probe.operation(n) } })
            let arrived = await Self.until {
                if probe.started(n) { return true }
                return await limiter.waitingCount == n - 1
            }
            #expect(arrived)
        }
        // 5 is urgent; 4 is promoted.
        tasks.append(Task { await limiter.run(tickets[5], urgent: true) { await probe.operation(5) } })
        #expect(await Self.until { await limiter.waitingCount == 4 })
        await limiter.promote(tickets[4])
        #expect(await limiter.waitingUrgentCount == 2)
        for n in [0, 1, 5, 4, 2, 3] {
            #expect(await Self.until { probe.started(n) })
            probe.finish(n)
        }
        await Self.releaseAll(probe, count: 6)
        for task in tasks { await task.value }
        #expect(probe.order == [0, 1, 5, 4, 2, 3])
        #expect(probe.most == 2)
    }

    @Test("a promotion that arrives before its operation waits still counts")
    func earlyPromotion() async {
        let limiter = AsyncLimiter(limit: 1)
        let probe = Probe()
        let first = Task { await limiter.run { await probe.operation(0) } }
        #expect(await Self.until { probe.started(0) })
        let late = limiter.ticket()
        await limiter.promote(late)
        let queued = Task { await limiter.run { await probe.operation(1) } }
        #expect(await Self.until { await limiter.waitingCount == 1 })
        let promoted = Task { await limiter.run(late) { await probe.operation(2) } }
        #expect(await Self.until { await limiter.waitingUrgentCount == 1 })
        probe.finish(0)
        #expect(await Self.until { probe.started(2) })
        probe.finish(2)
        #expect(await Self.until { probe.started(1) })
        probe.finish(1)
        await Self.releaseAll(probe, count: 3)
        for task in [first, queued, promoted] { await task.value }
        #expect(probe.order == [0, 2, 1])
    }
}

@Suite struct LogThrottleTests {
    @Test func logsOncePerIntervalAndCountsWhatItSkipped() {
        var throttle = LogThrottle(interval: .seconds(60))
        let start = ContinuousClock.now
        #expect(throttle.admit(now: start) == 0)
        for s in 1...5 { #expect(throttle.admit(now: start + .seconds(s)) == nil) }
        #expect(throttle.admit(now: start + .seconds(61)) == 5)
        #expect(throttle.admit(now: start + .seconds(62)) == nil)
        #expect(throttle.admit(now: start + .seconds(122)) == 1)
    }
}
