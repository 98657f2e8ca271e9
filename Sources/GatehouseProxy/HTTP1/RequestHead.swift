import NIOCore

/// Request methods the proxy tells apart; any other token is `.other` (and forwarded as sent).
enum RequestMethod: UInt8 {
    case get, head, post, put, delete, patch, options, trace, connect, other

    static func of(_ p: UnsafeRawBufferPointer) -> RequestMethod {
        // Methods are case-sensitive (RFC 9110 9.1).
        func eq(_ s: StaticString) -> Bool {
            guard p.count == s.utf8CodeUnitCount else { return false }
            for i in 0..<p.count where p[i] != s.utf8Start[i] { return false }
            return true
        }
        switch p.count {
        case 3: return eq("GET") ? .get : eq("PUT") ? .put : .other
        case 4: return eq("HEAD") ? .head : eq("POST") ? .post : .other
        case 5: return eq("PATCH") ? .patch : eq("TRACE") ? .trace : .other
        case 6: return eq("DELETE") ? .delete : .other
        case 7: return eq("OPTIONS") ? .options : eq("CONNECT") ? .connect : .other
        default: return .other
        }
    }

    /// Methods whose requests are expected to carry content (RFC 9110 9.3): a request of one of
    /// these without a body is forwarded with `Content-Length: 0`.
    var usuallyHasBody: Bool {
        switch self {
        case .get, .head, .delete, .connect, .options, .trace: false
        case .post, .put, .patch, .other: true
        }
    }
}

/// A parsed request head: the head's bytes as they arrived (a slice of the read buffer, not a
/// copy) and offsets into them. Names and values are read in place; the upstream head copies
/// the kept field lines byte for byte.
struct RequestHead {
    var bytes: ByteBuffer
    var method: RequestMethod
    var methodRange: Range<Int>
    var targetRange: Range<Int>
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    var minorVersion: Int
    var fields: [HeaderField]

    var isHTTP10: Bool { minorVersion == 0 }

    @inline(__always)
    func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try bytes.withUnsafeReadableBytes(body)
    }

    func string(_ range: Range<Int>) -> String {
        bytes.getString(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? ""
    }

    var methodName: String {
        switch method {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .delete: "DELETE"
        case .patch: "PATCH"
        case .options: "OPTIONS"
        case .trace: "TRACE"
        case .connect: "CONNECT"
        case .other: string(methodRange)
        }
    }

    var target: String { string(targetRange) }

    func name(_ f: HeaderField) -> String { string(Int(f.nameStart)..<Int(f.nameEnd)) }
    func value(_ f: HeaderField) -> String { string(Int(f.valueStart)..<Int(f.valueEnd)) }

    /// Indices of the fields of `kind`.
    func indices(of kind: FieldKind) -> [Int] {
        fields.indices.filter { fields[$0].kind == kind }
    }

    func first(_ kind: FieldKind) -> HeaderField? { fields.first { $0.kind == kind } }

    func count(_ kind: FieldKind) -> Int {
        var n = 0
        for f in fields where f.kind == kind { n += 1 }
        return n
    }

    /// The value bytes of `f` compared with `lower`, ignoring letter case.
    func valueEquals(_ f: HeaderField, _ lower: StaticString) -> Bool {
        withBytes { p in
            FieldKind.matches(UnsafeRawBufferPointer(rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)]), lower)
        }
    }

    /// The comma-separated elements of `f`'s value, trimmed, lower-cased (for `Connection`).

    /// Adds a field Gatehouse derived (its bytes are appended to the head's own).
    mutating func appendField(name: String, value: String) {
        let nameStart = bytes.readableBytes
        bytes.writeString(name)
        let valueStart = bytes.readableBytes
        bytes.writeString(value)
        let kind = bytes.withUnsafeReadableBytes { FieldKind.classify(UnsafeRawBufferPointer(rebasing: $0[nameStart..<valueStart])) }
        fields.append(
            HeaderField(
                nameStart: Int32(nameStart), nameEnd: Int32(valueStart), valueStart: Int32(valueStart), valueEnd: Int32(bytes.readableBytes),
                kind: kind, foldedHash: HTTPBytes.foldedHash(name.utf8), hasUnderscore: name.utf8.contains(0x5F)))
    }
}

/// Reads a request head from bytes that may arrive in pieces (RFC 9112 2–5, strictly). A head
/// split across any number of reads is scanned once: the parser remembers where it stopped.
struct RequestHeadParser {
    enum Outcome {
        case needMore
        /// A head of `length` bytes is complete at the start of the buffer.
        case complete(length: Int)
        case failure(HTTPParseError)
    }

    let maxHeadBytes: Int
    let maxFields: Int
    private var position = 0
    private var requestLine: (method: RequestMethod, methodRange: Range<Int>, targetRange: Range<Int>, minor: Int)?
    private var fields: [HeaderField] = []

    init(maxHeadBytes: Int, maxFields: Int = 256) {
        self.maxHeadBytes = maxHeadBytes
        self.maxFields = maxFields
        fields.reserveCapacity(32)
    }

    /// Parses what `buffer` holds of the next head (from its reader index).
    mutating func parse(_ buffer: ByteBuffer) -> Outcome {
        let outcome = buffer.withUnsafeReadableBytes { p -> Outcome in
            let window = UnsafeRawBufferPointer(rebasing: p[0..<min(p.count, maxHeadBytes)])
            if requestLine == nil {
                switch Self.requestLine(window, position: &position) {
                case .needMore: return p.count > maxHeadBytes ? .failure(HTTPParseError(.headTooLarge)) : .needMore
                case .failure(let e): return .failure(e)
                case .line(let line): requestLine = line
                }
            }
            switch FieldLines.scan(window, position: &position, fields: &fields, maxFields: maxFields, classify: true) {
            case .done(let end): return .complete(length: end)
            case .needMore: return p.count >= maxHeadBytes ? .failure(HTTPParseError(.headTooLarge)) : .needMore
            case .failure(let e): return .failure(e)
            }
        }
        return outcome
    }

    /// Takes the completed head of `length` bytes out of `buffer` (a slice: no copy) and
    /// resets the parser for the next one.
    mutating func take(length: Int, from buffer: inout ByteBuffer) -> RequestHead {
        let line = requestLine!
        let bytes = buffer.readSlice(length: length)!
        var taken: [HeaderField] = []
        swap(&taken, &fields)
        position = 0
        requestLine = nil
        return RequestHead(
            bytes: bytes, method: line.method, methodRange: line.methodRange, targetRange: line.targetRange, minorVersion: line.minor,
            fields: taken)
    }

    /// Gives a finished head's field storage back, so that the next head reuses it.
    mutating func recycle(_ head: inout RequestHead) {
        guard fields.isEmpty, head.fields.capacity > fields.capacity else { return }
        swap(&fields, &head.fields)
        fields.removeAll(keepingCapacity: true)
    }

    enum LineStep {
        case line((method: RequestMethod, methodRange: Range<Int>, targetRange: Range<Int>, minor: Int))
        case needMore
        case failure(HTTPParseError)
    }

    /// `method SP request-target SP HTTP-version CRLF`, single spaces only. Empty lines before
    /// it are skipped (RFC 9112 2.2), up to a few.
    static func requestLine(_ p: UnsafeRawBufferPointer, position: inout Int) -> LineStep {
        let end = p.count
        var i = position
        var skipped = 0
        while i < end, p[i] == HTTPBytes.cr || p[i] == HTTPBytes.lf {
            guard p[i] == HTTPBytes.cr else { return .failure(HTTPParseError(.bareLF)) }
            guard i + 1 < end else { return .needMore }
            guard p[i + 1] == HTTPBytes.lf else { return .failure(HTTPParseError(.bareCR)) }
            i += 2
            skipped += 1
            if skipped > 4 { return .failure(HTTPParseError(.badRequestLine)) }
        }
        let methodStart = i
        while true {
            guard i < end else { return .needMore }
            let b = p[i]
            if b == HTTPBytes.sp { break }
            guard HTTPBytes.isTChar(b), i - methodStart < 32 else { return .failure(HTTPParseError(.badMethod)) }
            i += 1
        }
        guard i > methodStart else { return .failure(HTTPParseError(.badMethod)) }
        let methodRange = methodStart..<i
        i += 1
        let targetStart = i
        while true {
            guard i < end else { return .needMore }
            let b = p[i]
            if b == HTTPBytes.sp { break }
            guard HTTPBytes.isVisible(b) else {
                if b == HTTPBytes.cr || b == HTTPBytes.lf { return .failure(HTTPParseError(.badRequestLine)) }
                return .failure(HTTPParseError(.badTarget))
            }
            i += 1
        }
        guard i > targetStart else { return .failure(HTTPParseError(.badRequestLine)) }
        let targetRange = targetStart..<i
        i += 1
        // "HTTP/1.1" CRLF
        guard end - i >= 10 else {
            // Not enough yet — unless what is there already cannot become a version.
            let prefix: [UInt8] = [0x48, 0x54, 0x54, 0x50, 0x2F]  // "HTTP/"
            for j in i..<end where j - i < prefix.count && p[j] != prefix[j - i] {
                return .failure(HTTPParseError(.badRequestLine))
            }
            return .needMore
        }
        guard p[i] == 0x48, p[i + 1] == 0x54, p[i + 2] == 0x54, p[i + 3] == 0x50, p[i + 4] == 0x2F else {
            return .failure(HTTPParseError(.badRequestLine))
        }
        let major = p[i + 5]
        let minor = p[i + 7]
        guard p[i + 6] == 0x2E, (0x30...0x39).contains(major), (0x30...0x39).contains(minor) else {
            return .failure(HTTPParseError(.badRequestLine))
        }
        guard p[i + 8] == HTTPBytes.cr else { return .failure(HTTPParseError(.badRequestLine)) }
        guard p[i + 9] == HTTPBytes.lf else { return .failure(HTTPParseError(.bareCR)) }
        guard major == 0x31, minor == 0x30 || minor == 0x31 else { return .failure(HTTPParseError(.unsupportedVersion)) }
        position = i + 10
        let method = RequestMethod.of(UnsafeRawBufferPointer(rebasing: p[methodRange]))
        return .line((method, methodRange, targetRange, Int(minor - 0x30)))
    }
}
