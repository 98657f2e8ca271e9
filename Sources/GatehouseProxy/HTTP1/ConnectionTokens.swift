/// What one `Connection` field says (RFC 9110 section 7.6.1): `close`, `keep-alive`, and the
/// names of the other fields it makes hop-by-hop, lower-cased. Read from the head's bytes in
/// one pass; a String is made only for a name other than `close` and `keep-alive`.
struct ConnectionTokens {
    var close = false
    var keepAlive = false
    var others: [String] = []

    init(_ p: UnsafeRawBufferPointer, _ f: HeaderField) {
        HTTPBytes.forEachListElement(p, from: Int(f.valueStart), to: Int(f.valueEnd)) { range in
            let element = UnsafeRawBufferPointer(rebasing: p[range])
            if FieldKind.matches(element, "close") {
                close = true
            } else if FieldKind.matches(element, "keep-alive") {
                keepAlive = true
            } else {
                others.append(String(decoding: element, as: UTF8.self).lowercased())
            }
        }
    }
}

extension HTTPBytes {
    /// The elements of a comma-separated field value (RFC 9110 section 5.6.1), each without the
    /// spaces and tabs around it; empty elements are skipped.
    static func forEachListElement(
        _ p: UnsafeRawBufferPointer, from start: Int, to end: Int, _ body: (Range<Int>) -> Void
    ) {
        var i = start
        while i < end {
            var first = i
            while i < end, p[i] != UInt8(ascii: ",") { i += 1 }
            var last = i
            while first < last, p[first] == sp || p[first] == htab { first += 1 }
            while last > first, p[last - 1] == sp || p[last - 1] == htab { last -= 1 }
            if last > first { body(first..<last) }
            i += 1
        }
    }
}

extension RequestHead {
    func connectionTokens(_ f: HeaderField) -> ConnectionTokens { withBytes { ConnectionTokens($0, f) } }
}

extension ResponseHead {
    func connectionTokens(_ f: HeaderField) -> ConnectionTokens { withBytes { ConnectionTokens($0, f) } }
}

extension ResponseHead {
    /// Whether an `Upgrade` field names `websocket` (a `101` that accepts a WebSocket handshake).
    var upgradesToWebSocket: Bool {
        withBytes { p in
            var found = false
            for f in fields where f.kind == .upgrade {
                HTTPBytes.forEachListElement(p, from: Int(f.valueStart), to: Int(f.valueEnd)) { range in
                    if FieldKind.matches(UnsafeRawBufferPointer(rebasing: p[range]), "websocket") { found = true }
                }
            }
            return found
        }
    }
}
