import GatehouseCore
import Logging
import NIOHTTP1

/// The header rules of the request path (DESIGN 3.3 and 3.6), in one place.
enum HeaderRewriting {
    /// Hop-by-hop headers (RFC 9110 7.6.1) plus the legacy ones proxies must not forward.
    /// `Transfer-Encoding` is handled separately: it frames the body we forward.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "trailers", "upgrade",
    ]

    /// Removes every inbound header that a client must never be able to set (DESIGN 3.3):
    /// protected prefixes, the assertion header, and the headers the tenant propagates —
    /// compared case-insensitively with `_` folded to `-`.
    static func strip(_ headers: inout HTTPHeaders, config: CompiledConfig, tenant: CompiledTenant?) {
        var doomed: [String] = []
        for (name, _) in headers {
            let canonical = HeaderName.canonical(name)
            if config.mustStrip(canonicalName: canonical, tenant: tenant) { doomed.append(name) }
        }
        for name in doomed { headers.remove(name: name) }
    }

    /// Headers that `Connection` can never remove: the message's framing is decided by
    /// Gatehouse alone (a client naming `Content-Length` there would otherwise forward its body
    /// unframed, as a request of its own), and `Host` routes it.
    static let neverNamedByConnection: Set<String> = ["content-length", "transfer-encoding", "host"]

    /// Removes hop-by-hop headers and any header named in `Connection` (but never the framing).
    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        var named: [String] = []
        for value in headers[canonicalForm: "connection"] {
            let token = value.trimmingSpaces().lowercased()
            if !token.isEmpty, token != "close", token != "keep-alive", !neverNamedByConnection.contains(token) { named.append(token) }
        }
        var doomed: [String] = []
        for (name, _) in headers {
            let lower = name.lowercased()
            if hopByHop.contains(lower) || named.contains(lower) { doomed.append(name) }
        }
        for name in doomed { headers.remove(name: name) }
    }

    /// Removes optional whitespace around field values (RFC 9110 5.5), which HTTP/1.1 parsers
    /// may leave in place at the end of a value: it is not part of the value, and HTTP/2 forbids
    /// it (RFC 9113 8.2.1), so strict HTTP/2 clients reset a stream that carries it.
    static func trimValues(_ headers: inout HTTPHeaders) {
        var untidy = false
        for (_, value) in headers where isUntidy(value) {
            untidy = true
            break
        }
        guard untidy else { return }
        var tidy = HTTPHeaders()
        tidy.reserveCapacity(headers.count)
        for (name, value) in headers { tidy.add(name: name, value: isUntidy(value) ? String(value.trimmingSpaces()) : value) }
        headers = tidy
    }

    private static func isUntidy(_ value: String) -> Bool {
        guard let first = value.utf8.first, let last = value.utf8.last else { return false }
        return first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09
    }

    enum Bearer {
        case absent
        case malformed
        case token(String)
    }

    /// The bearer token from `Authorization: Bearer …` only (DESIGN 3.4), never from the query.
    static func bearerToken(_ headers: HTTPHeaders) -> Bearer {
        let values = headers["authorization"]
        guard let value = values.first else { return .absent }
        guard values.count == 1 else { return .malformed }
        let trimmed = value.trimmingSpaces()
        guard trimmed.utf8.count > 7 else {
            return trimmed.lowercased().hasPrefix("bearer") ? .malformed : .absent
        }
        let scheme = trimmed.prefix(7).lowercased()
        guard scheme == "bearer " else {
            // Another scheme (Basic, DPoP…) is not a bearer token.
            return .absent
        }
        let token = trimmed.dropFirst(7).trimmingSpaces()
        guard !token.isEmpty else { return .malformed }
        for b in token.utf8 {
            let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
            if !ok { return .malformed }
        }
        return .token(String(token))
    }

    /// Sets the tenant's propagated headers from the verified claims (DESIGN 2.2 encoding).
    /// A value that cannot be sent safely leaves its header out and is logged (by name only).
    static func propagate(
        into headers: inout HTTPHeaders, tenant: CompiledTenant, principal: Principal, logger: Logger, requestID: String
    ) {
        for rule in tenant.tenant.propagate {
            let value: String?
            switch rule.source {
            case .tenant:
                value = principal.tenant.rawValue
            case .claim(let path):
                guard let claim = path.resolve(in: principal.claims) else { continue }
                value = HeaderValueEncoding.encode(claim)
                if value == nil {
                    logger.warning(
                        "claim value not propagated: it holds a control character",
                        metadata: ["tenant": "\(principal.tenant)", "header": "\(rule.header)", "claim": "\(path)", "request_id": "\(requestID)"])
                }
            }
            if let value { headers.replaceOrAdd(name: rule.header, value: value) }
        }
    }

    /// A client-supplied request id is kept only when it is short and plain.
    static func saneRequestID(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.utf8.count) else { return nil }
        for b in value.utf8 {
            let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") || b == UInt8(ascii: ":")
            if !ok { return nil }
        }
        return value
    }

    /// W3C trace context: passed on only when well-formed.
    static func saneTraceparent(_ value: String?) -> Bool {
        guard let value, value.utf8.count == 55 else { return false }
        for (i, b) in value.utf8.enumerated() {
            if i == 2 || i == 35 || i == 52 {
                if b != UInt8(ascii: "-") { return false }
            } else if !((b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66)) {
                return false
            }
        }
        return true
    }
}

extension StringProtocol {
    func trimmingSpaces() -> Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
