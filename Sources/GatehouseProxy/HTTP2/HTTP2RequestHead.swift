import NIOCore

/// Builds the `RequestHead` of an HTTP/2 request from its decoded fields as nghttp2 reports them:
/// their bytes are copied into one buffer and the head holds spans into it, exactly the shape the
/// HTTP/1.1 parser produces, so every later rule (target, Host, strip, framing, sessions, the
/// upstream head) reads both alike. No HTTP/1.1 text is written or parsed for it.
///
/// nghttp2 has already checked the RFC 9113 rules (pseudo-fields first, once each, the ones a
/// method needs; lower-case names; no connection-specific field; `te` only `trailers`); the
/// checks here repeat what the upstream head's safety rests on — token names, values without
/// control bytes — and bound the decoded list (an HPACK bomb costs a counter, not memory).
struct HTTP2RequestHeadBuilder {
    enum Failure: Error, Equatable {
        /// The decoded field list is over the limit: answered 431.
        case tooLarge
        /// Not a request Gatehouse can forward: answered 400 with the reason.
        case malformed(String)
    }

    struct Built {
        var head: RequestHead
        var framing: RequestFraming
        /// Extended CONNECT (RFC 8441) with `:protocol websocket`.
        var isWebSocket: Bool
    }

    private var bytes: ByteBuffer
    private var fields: [HeaderField] = []
    private var method: Range<Int>?
    private var path: Range<Int>?
    private var authority: Range<Int>?
    private var scheme: Range<Int>?
    private var protocolName: Range<Int>?
    private var cookies: [Range<Int>] = []
    private var sawField = false
    private var listBytes = 0
    private let maxListBytes: Int
    private let maxFields: Int
    private(set) var failure: Failure?

    init(maxListBytes: Int, maxFields: Int = 256, allocator: ByteBufferAllocator) {
        self.maxListBytes = maxListBytes
        self.maxFields = maxFields
        bytes = allocator.buffer(capacity: 1024)
        fields.reserveCapacity(16)
    }

    /// One decoded field, in the order received.
    mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        // RFC 9113 6.5.2: a field costs its name, its value and 32.
        listBytes += name.count + value.count + 32
        guard listBytes <= maxListBytes, fields.count < maxFields else {
            failure = .tooLarge
            return
        }
        guard !name.isEmpty else {
            failure = .malformed("empty field name")
            return
        }
        guard Self.isValidValue(value) else {
            failure = .malformed("invalid field value")
            return
        }
        let nameStart = bytes.writerIndex - bytes.readerIndex
        bytes.writeBytes(name)
        let valueStart = bytes.writerIndex - bytes.readerIndex
        bytes.writeBytes(value)
        let valueRange = valueStart..<(valueStart + value.count)
        if name[0] == UInt8(ascii: ":") {
            guard !sawField else {
                failure = .malformed("pseudo-field after a field")
                return
            }
            let repeated: Bool
            if FieldKind.matches(name, ":method") {
                repeated = method != nil
                method = valueRange
            } else if FieldKind.matches(name, ":path") {
                repeated = path != nil
                path = valueRange
            } else if FieldKind.matches(name, ":authority") {
                repeated = authority != nil
                authority = valueRange
            } else if FieldKind.matches(name, ":scheme") {
                repeated = scheme != nil
                scheme = valueRange
            } else if FieldKind.matches(name, ":protocol") {
                repeated = protocolName != nil
                protocolName = valueRange
            } else {
                failure = .malformed("unknown pseudo-field")
                return
            }
            if repeated { failure = .malformed("repeated pseudo-field") }
            return
        }
        sawField = true
        var hash = HTTPBytes.fnvOffset
        var underscore = false
        for b in name {
            // Field names are tokens, and lower case in HTTP/2 (RFC 9113 8.2.1).
            guard HTTPBytes.isTChar(b), b < 0x41 || b > 0x5A else {
                failure = .malformed("invalid field name")
                return
            }
            if b == 0x5F { underscore = true }
            hash = HTTPBytes.fnv(hash, HTTPBytes.fold(b))
        }
        let kind = FieldKind.classify(name)
        if kind == .cookie {
            // Joined into one field at the end (RFC 9113 8.2.3).
            cookies.append(valueRange)
            return
        }
        fields.append(
            HeaderField(
                nameStart: Int32(nameStart), nameEnd: Int32(valueStart), valueStart: Int32(valueStart), valueEnd: Int32(valueRange.upperBound),
                kind: kind, foldedHash: hash, hasUnderscore: underscore))
    }

    /// A value of VCHAR, obs-text, SP and HTAB only (no CR, LF, NUL or other control byte, no
    /// DEL), with no whitespace at either end (RFC 9113 8.2.1). Eight bytes at a time where none
    /// is a control byte or DEL.
    static func isValidValue(_ value: UnsafeRawBufferPointer) -> Bool {
        let n = value.count
        guard n > 0, let base = value.baseAddress else { return true }
        let first = value[0]
        let last = value[n - 1]
        if first == HTTPBytes.sp || first == HTTPBytes.htab || last == HTTPBytes.sp || last == HTTPBytes.htab { return false }
        var i = 0
        while i + 8 <= n {
            let w = (base + i).loadUnaligned(as: UInt64.self)
            if HTTPBytes.hasControlOrDEL(w) {
                for k in i..<(i + 8) where !HTTPBytes.isFieldValueByte(value[k]) { return false }
            }
            i += 8
        }
        while i < n {
            if !HTTPBytes.isFieldValueByte(value[i]) { return false }
            i += 1
        }
        return true
    }

    /// The head, once the header block is complete; `endStream`: the request has no body.
    mutating func build(endStream: Bool) -> Result<Built, Failure> {
        if let failure { return .failure(failure) }
        guard let method else { return .failure(.malformed("no :method")) }
        let methodKind = bytes.withUnsafeReadableBytes { RequestMethod.of(UnsafeRawBufferPointer(rebasing: $0[method])) }
        var isWebSocket = false
        if let protocolName {
            // Extended CONNECT (RFC 8441): only WebSocket is relayed.
            guard methodKind == .connect else { return .failure(.malformed(":protocol without CONNECT")) }
            guard bytes.withUnsafeReadableBytes({ FieldKind.matches(UnsafeRawBufferPointer(rebasing: $0[protocolName]), "websocket") })
            else { return .failure(.malformed("only the websocket protocol is supported")) }
            isWebSocket = true
        } else if methodKind == .connect {
            return .failure(.malformed("CONNECT is not supported"))
        }
        guard let path, scheme != nil, !path.isEmpty else { return .failure(.malformed("no :path or :scheme")) }

        // One `host` field: the authority (which must agree with a `host` field the client sent too).
        var hostIndex: Int?
        for (i, f) in fields.enumerated() where f.kind == .host {
            guard hostIndex == nil else { return .failure(.malformed("more than one host field")) }
            hostIndex = i
        }
        if let authority {
            if let i = hostIndex {
                let f = fields[i]
                let agree = bytes.withUnsafeReadableBytes { p in
                    let a = UnsafeRawBufferPointer(rebasing: p[authority])
                    let h = UnsafeRawBufferPointer(rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)])
                    return a.count == h.count && zip(a, h).allSatisfy { HTTPBytes.lower($0) == HTTPBytes.lower($1) }
                }
                // RFC 9113 8.3.1: `:authority` and `host` must name the same authority.
                guard agree else { return .failure(.malformed(":authority and host disagree")) }
                fields[i].valueStart = Int32(authority.lowerBound)
                fields[i].valueEnd = Int32(authority.upperBound)
            } else {
                let nameStart = bytes.writerIndex - bytes.readerIndex
                bytes.writeStaticString("host")
                fields.append(
                    HeaderField(
                        nameStart: Int32(nameStart), nameEnd: Int32(nameStart + 4), valueStart: Int32(authority.lowerBound),
                        valueEnd: Int32(authority.upperBound), kind: .host, foldedHash: HTTPBytes.foldedHash("host".utf8), hasUnderscore: false))
            }
        } else if hostIndex == nil {
            return .failure(.malformed("no :authority or host"))
        }
        if !cookies.isEmpty {
            let nameStart = bytes.writerIndex - bytes.readerIndex
            bytes.writeStaticString("cookie")
            let valueStart = nameStart + 6
            for (i, range) in cookies.enumerated() {
                if i > 0 { bytes.writeStaticString("; ") }
                bytes.writeBytes(bytes.getSlice(at: bytes.readerIndex + range.lowerBound, length: range.count)!.readableBytesView)
            }
            let valueEnd = bytes.writerIndex - bytes.readerIndex
            fields.append(
                HeaderField(
                    nameStart: Int32(nameStart), nameEnd: Int32(valueStart), valueStart: Int32(valueStart), valueEnd: Int32(valueEnd),
                    kind: .cookie, foldedHash: HTTPBytes.foldedHash("cookie".utf8), hasUnderscore: false))
        }

        var head = RequestHead(
            bytes: bytes, method: isWebSocket ? .get : methodKind, methodRange: method, targetRange: path, minorVersion: 1,
            fields: fields)
        if isWebSocket {
            // A key the client sent has no meaning on HTTP/2 (RFC 8441 5): Gatehouse makes the
            // upstream handshake's own.
            let keys = head.withBytes { p in
                head.fields.indices.filter { i in
                    let f = head.fields[i]
                    return FieldKind.matches(UnsafeRawBufferPointer(rebasing: p[Int(f.nameStart)..<Int(f.nameEnd)]), "sec-websocket-key")
                }
            }
            for i in keys { head.fields[i].dropped = true }
            // Relayed upstream as an HTTP/1.1 WebSocket handshake: `GET`.
            let start = head.bytes.writerIndex - head.bytes.readerIndex
            head.bytes.writeStaticString("GET")
            head.methodRange = start..<(start + 3)
        }
        switch framing(head, endStream: endStream, isWebSocket: isWebSocket) {
        case .success(let framing): return .success(Built(head: head, framing: framing, isWebSocket: isWebSocket))
        case .failure(let failure): return .failure(failure)
        }
    }

    /// HTTP/2 frames the body itself (DATA, END_STREAM): no body, a declared `content-length`
    /// (which nghttp2 holds the DATA to), or one of unknown length (sent upstream chunked).
    private func framing(_ head: RequestHead, endStream: Bool, isWebSocket: Bool) -> Result<RequestFraming, Failure> {
        var length: Int?
        for f in head.fields where f.kind == .contentLength {
            guard length == nil, let n = RequestFraming.decimal(head.value(f)) else { return .failure(.malformed("invalid content-length")) }
            length = n
        }
        if head.fields.contains(where: { $0.kind == .transferEncoding }) { return .failure(.malformed("transfer-encoding in HTTP/2")) }
        let framing: RequestFraming
        if isWebSocket || endStream {
            framing = .none
        } else if let length {
            framing = length == 0 ? .none : .length(length)
        } else {
            framing = .chunked
        }
        if head.method == .trace, framing != .none { return .failure(.malformed("a TRACE request cannot carry a body")) }
        return .success(framing)
    }
}
