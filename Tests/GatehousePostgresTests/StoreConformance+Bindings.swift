import GatehouseCore
import GatehouseSessions
import Testing

/// The behaviour every `GatehouseStore` must have, written once and run against each backend
/// (`StoreConformanceTests`, one case per backend). SQLite is the reference.
enum StoreConformance {}

extension StoreConformance {
    static func bindingRoundTripReplaceAndDelete(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let a = makeBinding(id: "sess-a", clientID: "client-1", upstream: "10.0.0.1:8080")
            let b = makeBinding(id: "sess-b", issuedBy: .client, clientID: nil, upstream: nil)
            try await store.upsertBinding(a)
            try await store.upsertBinding(b)
            #expect(Set(try await store.loadBindings(now: 0)) == [a, b])

            // Upserting the same key replaces every column, it does not add a row.
            var a2 = a
            a2.principal = BoundPrincipal(issuer: "https://other.example/", subject: "someone-else", clientID: "")
            a2.upstream = "10.0.0.2:8080"
            a2.issuedBy = .client
            a2.createdAt = 500
            a2.lastSeenAt = 600
            a2.expiresAt = 5000
            try await store.upsertBinding(a2)
            let loaded = try await store.loadBindings(now: 0)
            #expect(Set(loaded) == [a2, b])
            // An empty client id stays empty; a missing one stays missing.
            #expect(loaded.first { $0.key == a.key }?.principal.clientID == "")
            #expect(loaded.first { $0.key == b.key }?.principal.clientID == nil)

            try await store.deleteBinding(a.key)
            try await store.deleteBinding(a.key)  // deleting a missing row is not an error
            #expect(try await store.loadBindings(now: 0) == [b])
        }
    }

    static func touchSlidesExistingRowsOnlyAndNeverBackwards(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let a = makeBinding(id: "a", lastSeenAt: 100, expiresAt: 1000)
            let b = makeBinding(id: "b", lastSeenAt: 100, expiresAt: 1000)
            let c = makeBinding(id: "c", lastSeenAt: 100, expiresAt: 1000)
            for binding in [a, b, c] { try await store.upsertBinding(binding) }
            let ghost = SessionKey(tenant: tenantA, header: "Mcp-Session-Id", id: "gone")
            try await store.touchBindings([
                SessionTouch(key: a.key, lastSeenAt: 200, expiresAt: 2000),
                SessionTouch(key: ghost, lastSeenAt: 200, expiresAt: 2000),
                SessionTouch(key: b.key, lastSeenAt: 50, expiresAt: 500),  // stale: must not shorten
                // The same key twice in one batch: the later times win, whatever the order.
                SessionTouch(key: c.key, lastSeenAt: 400, expiresAt: 4000),
                SessionTouch(key: c.key, lastSeenAt: 300, expiresAt: 3000),
            ])
            try await store.touchBindings([])
            let rows = Dictionary(uniqueKeysWithValues: try await store.loadBindings(now: 0).map { ($0.key, $0) })
            #expect(rows.count == 3)  // the vanished row was skipped, not created
            #expect(rows[a.key]?.lastSeenAt == 200)
            #expect(rows[a.key]?.expiresAt == 2000)
            #expect(rows[b.key]?.lastSeenAt == 100)
            #expect(rows[b.key]?.expiresAt == 1000)
            #expect(rows[c.key]?.lastSeenAt == 400)
            #expect(rows[c.key]?.expiresAt == 4000)
            #expect(rows[a.key]?.createdAt == a.createdAt)
            #expect(rows[a.key]?.principal == a.principal)
        }
    }

    static func expiredBindingsAreNotLoadedAndAreSwept(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let expired = makeBinding(id: "old", expiresAt: 100)
            let boundary = makeBinding(id: "edge", expiresAt: 200)
            let live = makeBinding(id: "new", expiresAt: 300)
            for binding in [expired, boundary, live] { try await store.upsertBinding(binding) }

            // Live means expires_at > now, for loading and sweeping alike.
            #expect(try await store.loadBindings(now: 200) == [live])
            #expect(try await store.deleteExpiredBindings(now: 200) == 2)
            #expect(try await store.deleteExpiredBindings(now: 200) == 0)
            #expect(try await store.loadBindings(now: 0) == [live])
        }
    }

    static func sessionKeysAreTenantScopedAndHeaderCanonical(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let inA = makeBinding(tenant: tenantA, id: "shared-id", subject: "alice")
            let inB = makeBinding(tenant: tenantB, id: "shared-id", subject: "bob")
            try await store.upsertBinding(inA)
            try await store.upsertBinding(inB)
            #expect(Set(try await store.loadBindings(now: 0)) == [inA, inB])
            try await store.deleteBinding(inA.key)
            #expect(try await store.loadBindings(now: 0) == [inB])

            try await store.upsertBinding(makeBinding(id: "x", header: "Mcp-Session-Id", subject: "first"))
            try await store.upsertBinding(makeBinding(id: "x", header: "mcp_session_id", subject: "second"))
            let rows = try await store.loadBindings(now: 0).filter { $0.key.id == "x" }
            #expect(rows.count == 1)
            #expect(rows.first?.principal.subject == "second")
            #expect(rows.first?.key.header == "mcp-session-id")
        }
    }

    static func hostileValuesRoundTripExactly(_ backend: any StoreBackend) async throws {
        try await withStore(backend) { store, _ in
            let hostile = [
                "'; DROP TABLE session_bindings; --",
                "\" OR 1=1 --",
                "a'b\"c`d\\e%f_g?h:i@j$k$1",
                "e\u{301} \u{E9} \u{202E}rtl\u{202C} \u{200B}\u{FEFF} 𝕏 🧑🏽‍💻 \u{7F}\u{1}",
                String(repeating: "x", count: 256),
                String(repeating: "é", count: 128),  // 256 bytes of two-byte characters
                "",
            ]
            var bindings: [SessionBinding] = []
            for (index, value) in hostile.enumerated() {
                let binding = SessionBinding(
                    key: SessionKey(tenant: tenantA, header: "x-" + value.lowercased(), id: value.isEmpty ? "empty" : value),
                    principal: BoundPrincipal(issuer: value, subject: value, clientID: value),
                    upstream: value, issuedBy: .server, createdAt: Double(index), lastSeenAt: -0.5, expiresAt: 1e12 + 0.25)
                bindings.append(binding)
                try await store.upsertBinding(binding)

                let flow = OAuthFlowRecord(
                    tenant: tenantB, sessionID: value, principal: binding.principal, authorizationURL: value,
                    startHandle: "h\(index)" + value, cookieHash: value, sealedUserToken: (0...255).map { UInt8($0) },
                    createdAt: 1, expiresAt: 2)
                try await store.insertFlow(flow)
                let back = try #require(try await store.flow(tenant: tenantB, sessionID: value))
                #expect(back == flow)
                #expect(sameBytes(back.sessionID, value) && sameBytes(back.authorizationURL, value))
                #expect(sameBytes(back.cookieHash ?? "-", value) && sameBytes(back.principal.subject, value))
                #expect(try await store.flow(startHandle: flow.startHandle) == flow)
                #expect(try await store.flows(sessionID: value) == [flow])
            }

            let loaded = Dictionary(uniqueKeysWithValues: try await store.loadBindings(now: 0).map { (Array($0.key.id.utf8), $0) })
            #expect(loaded.count == bindings.count)
            for binding in bindings {
                // Swift compares strings by canonical equivalence; the store must keep the bytes.
                let back = try #require(loaded[Array(binding.key.id.utf8)])
                #expect(back == binding)
                #expect(sameBytes(back.key.header, binding.key.header))
                #expect(sameBytes(back.principal.issuer, binding.principal.issuer))
                #expect(sameBytes(back.principal.subject, binding.principal.subject))
                #expect(sameBytes(back.principal.clientID ?? "-", binding.principal.clientID ?? "+"))
                #expect(sameBytes(back.upstream ?? "-", binding.upstream ?? "+"))
                #expect(back.createdAt == binding.createdAt && back.lastSeenAt == -0.5 && back.expiresAt == 1e12 + 0.25)
            }
            // Precomposed and decomposed "é" are equal Swift strings but two different keys.
            try await store.upsertBinding(makeBinding(id: "caf\u{65}\u{301}", subject: "decomposed"))
            try await store.upsertBinding(makeBinding(id: "caf\u{E9}", subject: "precomposed"))
            let cafes = try await store.loadBindings(now: 0).filter { $0.key.id.hasPrefix("caf") }
            #expect(cafes.count == 2)
        }
    }
}
