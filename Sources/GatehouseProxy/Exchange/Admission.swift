import GatehouseCore

/// The request path's decisions that need no I/O (docs/http.md, docs/status-codes.md
/// "What Gatehouse answers itself"): pure functions of the parsed head and the configuration, tested without sockets.
enum Admission {
    struct Refusal: Error, Equatable {
        var status: Int
        var code: String
        var message: String
        var reason: String
    }

    /// `Host`: at most one, required in HTTP/1.1 (RFC 9112 3.2), and plain (it is echoed into URLs
    /// Gatehouse writes). Returns the host, or nil for an HTTP/1.0 request without one.
    static func host(_ head: RequestHead) -> Result<String?, Refusal> {
        var found: HeaderField?
        var count = 0
        for f in head.fields where f.kind == .host {
            count += 1
            found = f
        }
        guard count <= 1 else { return .failure(Refusal(status: 400, code: "bad_request", message: "invalid Host header", reason: "bad_host")) }
        guard let f = found else {
            if head.isHTTP10 { return .success(nil) }
            return .failure(Refusal(status: 400, code: "bad_request", message: "missing Host header", reason: "bad_host"))
        }
        let value = head.value(f)
        if value.isEmpty, head.isHTTP10 { return .success(nil) }
        guard !value.isEmpty, isSaneAuthority(value) else {
            return .failure(Refusal(status: 400, code: "bad_request", message: "invalid Host header", reason: "bad_host"))
        }
        return .success(value)
    }

    /// The request target: origin-form only, RFC 3986 characters only (docs/http.md).
    static func target(_ head: RequestHead) -> Refusal? {
        let valid = head.withBytes { p in HTTPSyntax.isValidOriginForm(UnsafeRawBufferPointer(rebasing: p[head.targetRange])) }
        guard !valid else { return nil }
        let originForm = head.withBytes { p in p[head.targetRange.lowerBound] == UInt8(ascii: "/") }
        return Refusal(
            status: 400, code: "bad_request",
            message: originForm ? "invalid character in the request target" : "only origin-form request targets are accepted",
            reason: "bad_target")
    }

    /// The target's path, without its query.
    static func path(_ head: RequestHead) -> String {
        head.withBytes { p in
            var end = head.targetRange.lowerBound
            while end < head.targetRange.upperBound, p[end] != UInt8(ascii: "?") { end += 1 }
            return String(decoding: UnsafeRawBufferPointer(rebasing: p[head.targetRange.lowerBound..<end]), as: UTF8.self)
        }
    }

    struct TenantRoute {
        var tenant: CompiledTenant?
        /// The path prefix matched (only when the prefix, not the Host, chose the tenant).
        var prefix: String?
        var routedByPrefix: Bool { prefix != nil }
    }

    /// The tenant by Host, then by path prefix (the token's issuer may still choose one later).
    static func tenant(host: String?, path: String, config: CompiledConfig) -> TenantRoute {
        if let host, !config.snapshot.tenantByHost.isEmpty,
            let id = config.snapshot.tenantByHost[ProtectedResourceMetadata.authorityHost(host)]
        {
            return TenantRoute(tenant: config.tenants[id], prefix: nil)
        }
        if let match = config.snapshot.tenant(forPath: Substring(path)) {
            return TenantRoute(tenant: config.tenants[match.tenant], prefix: match.prefix)
        }
        return TenantRoute(tenant: nil, prefix: nil)
    }

    /// Marks every field a client must never be able to set (docs/request-path.md "Headers a client cannot set"): protected prefixes,
    /// the assertion header, the headers the tenant propagates (every tenant's while the tenant
    /// is not known) — names compared case-insensitively with `_` as `-` — and the `_`
    /// lookalikes of framing, routing and hop-by-hop fields. Returns how many were marked.
    @discardableResult
    static func markStripped(_ head: inout RequestHead, config: CompiledConfig, tenant: CompiledTenant?) -> Int {
        var marked = 0
        let fields = head.fields
        head.withBytes { p in
            for i in fields.indices where !fields[i].dropped {
                let f = fields[i]
                let name = UnsafeRawBufferPointer(rebasing: p[Int(f.nameStart)..<Int(f.nameEnd)])
                if config.mustStrip(name: name, hash: f.foldedHash, tenant: tenant)
                    || (f.hasUnderscore && FieldKind.classifyFolded(name).guardsLookalikes)
                {
                    head.fields[i].dropped = true
                    marked += 1
                }
            }
        }
        return marked
    }

    enum Bearer: Equatable {
        case absent
        case malformed
        /// The token's bytes: this range of the head.
        case token(Range<Int>)
    }

    /// The bearer token from `Authorization: Bearer …` only (never from the query).
    static func bearer(_ head: RequestHead) -> Bearer {
        var found: HeaderField?
        for f in head.fields where f.kind == .authorization {
            guard found == nil else { return .malformed }
            found = f
        }
        guard let f = found else { return .absent }
        return head.withBytes { p -> Bearer in
            let start = Int(f.valueStart)
            let end = Int(f.valueEnd)
            let count = end - start
            guard count > 7 else {
                // "Bearer" with nothing after it is a broken bearer; anything else is another scheme.
                let word: [UInt8] = Array("bearer".utf8)
                if count >= 6, (0..<6).allSatisfy({ HTTPBytes.lower(p[start + $0]) == word[$0] }) { return .malformed }
                return .absent
            }
            let scheme: [UInt8] = Array("bearer ".utf8)
            for i in 0..<7 where HTTPBytes.lower(p[start + i]) != scheme[i] {
                // Another scheme (Basic, DPoP…) is not a bearer token.
                return .absent
            }
            var t = start + 7
            while t < end, p[t] == HTTPBytes.sp || p[t] == HTTPBytes.htab { t += 1 }
            guard t < end else { return .malformed }
            guard HTTPBytes.allTokenBytes(p, t..<end) else { return .malformed }
            return .token(t..<end)
        }
    }

    /// Host names, IPv4 and bracketed IPv6 literals with an optional port: nothing that could
    /// break out of a quoted header parameter or a URL.
    static func isSaneAuthority(_ host: String) -> Bool {
        guard host.utf8.count <= 255 else { return false }
        for b in host.utf8 {
            let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: ":") || b == UInt8(ascii: "[")
                || b == UInt8(ascii: "]") || b == UInt8(ascii: "_")
            if !ok { return false }
        }
        return true
    }
}

extension Admission {
    /// What an `Upgrade` request asks for (docs/http.md "WebSocket").
    enum Upgrade: Equatable {
        /// No upgrade (or one Gatehouse ignores: `h2c`, or any on HTTP/1.0, RFC 9110 7.8).
        case none
        /// An HTTP/1.1 WebSocket opening handshake (RFC 6455 4.1): relayed, and on the
        /// upstream's `101` the connection becomes a tunnel.
        case websocket
    }

    /// `Upgrade: websocket` is taken when the handshake is well-formed (GET, no body,
    /// `Connection: upgrade`); `h2c` is ignored (HTTP/2 needs prior knowledge or ALPN here);
    /// any other protocol is refused, so that no upstream is ever asked to switch to something
    /// Gatehouse cannot police.
    static func upgrade(_ head: RequestHead, framing: RequestFraming) -> Result<Upgrade, Refusal> {
        var websocket = false
        var other = false
        head.withBytes { p in
            for f in head.fields where f.kind == .upgrade {
                HTTPBytes.forEachListElement(p, from: Int(f.valueStart), to: Int(f.valueEnd)) { range in
                    let element = UnsafeRawBufferPointer(rebasing: p[range])
                    if FieldKind.matches(element, "websocket") {
                        websocket = true
                    } else if !FieldKind.matches(element, "h2c") {
                        other = true
                    }
                }
            }
        }
        guard websocket || other, !head.isHTTP10 else { return .success(.none) }
        if other {
            return .failure(
                Refusal(status: 400, code: "unsupported_upgrade", message: "only Upgrade: websocket is supported", reason: "bad_upgrade"))
        }
        var connectionUpgrade = false
        for f in head.fields where f.kind == .connection && head.connectionTokens(f).others.contains("upgrade") {
            connectionUpgrade = true
        }
        guard head.method == .get, case .none = framing, connectionUpgrade else {
            return .failure(
                Refusal(
                    status: 400, code: "bad_request",
                    message: "a WebSocket handshake is a GET without a body, with Connection: upgrade", reason: "bad_upgrade"))
        }
        return .success(.websocket)
    }
}
