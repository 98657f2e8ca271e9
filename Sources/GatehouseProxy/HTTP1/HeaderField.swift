/// One field line of a parsed head: offsets of its name and value (optional whitespace already
/// trimmed) relative to the start of the head's bytes, what kind of field it is, and the hash of
/// its folded name (for the strip and session rules). Nothing is copied out of the read buffer.
struct HeaderField: Equatable {
    var nameStart: Int32
    var nameEnd: Int32
    var valueStart: Int32
    var valueEnd: Int32
    var kind: FieldKind
    /// `HTTPBytes.foldedHash` of the name (lower case, `_` as `-`).
    var foldedHash: UInt64
    /// The name holds a `_`: it can only be a lookalike of a known field (`Content_Length`).
    var hasUnderscore: Bool
    /// The value had whitespace after it (trimmed off): framing fields must be exact.
    var padded: Bool = false
    /// Not to be forwarded (set by the proxy: stripped identity headers, hop-by-hop fields…).
    var dropped: Bool = false

    var nameLength: Int { Int(nameEnd - nameStart) }
    var valueLength: Int { Int(valueEnd - valueStart) }
}

/// Fields the proxy itself reads or must never forward, recognised while the head is parsed
/// (exact names, any letter case).
enum FieldKind: UInt8 {
    case other
    case host
    case contentLength
    case transferEncoding
    case connection
    case keepAlive
    case proxyConnection
    case te
    case trailer
    case upgrade
    case expect
    case authorization
    case proxyAuthorization
    case proxyAuthenticate
    case xRequestID
    case traceparent
    case tracestate
    case xForwardedFor
    case xForwardedProto
    case xForwardedHost
    case cookie
    case contentType
    case contentEncoding
    case http2Settings

    /// Hop-by-hop fields (RFC 9110 7.6.1) and legacy ones no proxy forwards, in either direction.
    var isHopByHop: Bool {
        switch self {
        case .connection, .keepAlive, .proxyConnection, .te, .trailer, .upgrade, .proxyAuthorization, .proxyAuthenticate,
            .http2Settings:
            return true
        default:
            return false
        }
    }

    /// Fields whose lookalike with `_` (`Transfer_Encoding`) is never forwarded: some servers
    /// and CGI-style frameworks fold `_` into `-`, and would read framing or routing from it.
    var guardsLookalikes: Bool {
        isHopByHop || self == .host || self == .contentLength || self == .transferEncoding
    }

    /// The kind of a field name given as bytes (any letter case; `_` is not folded here).
    static func classify(_ name: UnsafeRawBufferPointer) -> FieldKind {
        switch name.count {
        case 2: return matches(name, "te") ? .te : .other
        case 4: return matches(name, "host") ? .host : .other
        case 6:
            if matches(name, "cookie") { return .cookie }
            if matches(name, "expect") { return .expect }
            return .other
        case 7:
            if matches(name, "upgrade") { return .upgrade }
            if matches(name, "trailer") { return .trailer }
            return .other
        case 10:
            if matches(name, "connection") { return .connection }
            if matches(name, "keep-alive") { return .keepAlive }
            if matches(name, "tracestate") { return .tracestate }
            return .other
        case 11: return matches(name, "traceparent") ? .traceparent : .other
        case 12:
            if matches(name, "x-request-id") { return .xRequestID }
            if matches(name, "content-type") { return .contentType }
            return .other
        case 13: return matches(name, "authorization") ? .authorization : .other
        case 14:
            if matches(name, "content-length") { return .contentLength }
            if matches(name, "http2-settings") { return .http2Settings }
            return .other
        case 15:
            if matches(name, "x-forwarded-for") { return .xForwardedFor }
            return .other
        case 16:
            if matches(name, "proxy-connection") { return .proxyConnection }
            if matches(name, "x-forwarded-host") { return .xForwardedHost }
            if matches(name, "content-encoding") { return .contentEncoding }
            return .other
        case 17:
            if matches(name, "transfer-encoding") { return .transferEncoding }
            if matches(name, "x-forwarded-proto") { return .xForwardedProto }
            return .other
        case 18: return matches(name, "proxy-authenticate") ? .proxyAuthenticate : .other
        case 19: return matches(name, "proxy-authorization") ? .proxyAuthorization : .other
        default: return .other
        }
    }

    /// The kind a `_`-lookalike name would have if its `_` were `-`.
    static func classifyFolded(_ name: UnsafeRawBufferPointer) -> FieldKind {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: name.count) { out in
            for i in 0..<name.count { out[i] = HTTPBytes.fold(name[i]) }
            return classify(UnsafeRawBufferPointer(out))
        }
    }

    @inline(__always)
    static func matches(_ name: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
        guard name.count == lower.utf8CodeUnitCount else { return false }
        let expected = lower.utf8Start
        for i in 0..<name.count where HTTPBytes.lower(name[i]) != expected[i] { return false }
        return true
    }
}
