import NIOCore

/// A parsed upstream response head, like `RequestHead`: bytes as received plus offsets.
struct ResponseHead {
    var bytes: ByteBuffer
    var status: Int
    var minorVersion: Int
    /// The status line's reason phrase (may be empty).
    var reasonRange: Range<Int>
    var fields: [HeaderField]

    @inline(__always)
    func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try bytes.withUnsafeReadableBytes(body)
    }

    func string(_ range: Range<Int>) -> String {
        bytes.getString(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? ""
    }

    func name(_ f: HeaderField) -> String { string(Int(f.nameStart)..<Int(f.nameEnd)) }
    func value(_ f: HeaderField) -> String { string(Int(f.valueStart)..<Int(f.valueEnd)) }
    func first(_ kind: FieldKind) -> HeaderField? { fields.first { $0.kind == kind } }

    func count(_ kind: FieldKind) -> Int {
        var n = 0
        for f in fields where f.kind == kind { n += 1 }
        return n
    }

    func valueEquals(_ f: HeaderField, _ lower: StaticString) -> Bool {
        withBytes { p in
            FieldKind.matches(UnsafeRawBufferPointer(rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)]), lower)
        }
    }


    /// The first field whose folded name is `canonical` (lower case, `_` as `-`).
    func first(canonical: String, hash: UInt64) -> HeaderField? {
        fields.first { $0.foldedHash == hash && foldedNameEquals($0, canonical) }
    }

    func foldedNameEquals(_ f: HeaderField, _ canonical: String) -> Bool {
        withBytes { p in
            guard f.nameLength == canonical.utf8.count else { return false }
            var i = Int(f.nameStart)
            for c in canonical.utf8 {
                if HTTPBytes.fold(p[i]) != c { return false }
                i += 1
            }
            return true
        }
    }
}

/// Reads an upstream's response head, as strictly as a client's request (a proxy trusts its
/// upstreams no more than its clients when it comes to framing).
struct ResponseHeadParser {
    enum Outcome {
        case needMore
        case complete(length: Int)
        case failure(HTTPParseError)
    }

    let maxHeadBytes: Int
    let maxFields: Int
    private var position = 0
    private var statusLine: (status: Int, minor: Int, reason: Range<Int>)?
    private var fields: [HeaderField] = []

    init(maxHeadBytes: Int, maxFields: Int = 256) {
        self.maxHeadBytes = maxHeadBytes
        self.maxFields = maxFields
        fields.reserveCapacity(16)
    }

    mutating func parse(_ buffer: ByteBuffer) -> Outcome {
        buffer.withUnsafeReadableBytes { p -> Outcome in
            let window = UnsafeRawBufferPointer(rebasing: p[0..<min(p.count, maxHeadBytes)])
            if statusLine == nil {
                switch Self.statusLine(window, position: &position) {
                case .needMore: return p.count >= maxHeadBytes ? .failure(HTTPParseError(.headTooLarge)) : .needMore
                case .failure(let e): return .failure(e)
                case .line(let line): statusLine = line
                }
            }
            switch FieldLines.scan(window, position: &position, fields: &fields, maxFields: maxFields, classify: true) {
            case .done(let end): return .complete(length: end)
            case .needMore: return p.count >= maxHeadBytes ? .failure(HTTPParseError(.headTooLarge)) : .needMore
            case .failure(let e): return .failure(e)
            }
        }
    }

    mutating func take(length: Int, from buffer: inout ByteBuffer) -> ResponseHead {
        let line = statusLine!
        let bytes = buffer.readSlice(length: length)!
        var taken: [HeaderField] = []
        swap(&taken, &fields)
        position = 0
        statusLine = nil
        return ResponseHead(bytes: bytes, status: line.status, minorVersion: line.minor, reasonRange: line.reason, fields: taken)
    }

    mutating func reset() {
        position = 0
        statusLine = nil
        fields.removeAll(keepingCapacity: true)
    }

    mutating func recycle(_ head: inout ResponseHead) {
        guard fields.isEmpty, head.fields.capacity > fields.capacity else { return }
        swap(&fields, &head.fields)
        fields.removeAll(keepingCapacity: true)
    }

    enum LineStep {
        case line((status: Int, minor: Int, reason: Range<Int>))
        case needMore
        case failure(HTTPParseError)
    }

    /// `HTTP/1.x SP 3DIGIT SP reason-phrase CRLF`; a missing reason (and its space) is accepted,
    /// as many servers send `HTTP/1.1 200\r\n`.
    static func statusLine(_ p: UnsafeRawBufferPointer, position: inout Int) -> LineStep {
        let end = p.count
        let i = position
        let lineEnd = Self.lineEnd(p, from: i)
        // A peer that is not speaking HTTP fails at its first bytes, without waiting for a line
        // end; checked the same way whether or not the line end has arrived, so that the verdict
        // does not depend on how the bytes were split into reads.
        let prefix: [UInt8] = [0x48, 0x54, 0x54, 0x50, 0x2F]  // "HTTP/"
        for j in i..<min(lineEnd ?? end, i + prefix.count) where p[j] != prefix[j - i] {
            return .failure(HTTPParseError(.badStatusLine))
        }
        guard let cr = lineEnd else { return .needMore }
        guard p[cr] == HTTPBytes.cr else { return .failure(HTTPParseError(.bareLF)) }
        guard cr - i >= 12, p[i] == 0x48, p[i + 1] == 0x54, p[i + 2] == 0x54, p[i + 3] == 0x50, p[i + 4] == 0x2F,
            p[i + 5] == 0x31, p[i + 6] == 0x2E, p[i + 7] == 0x30 || p[i + 7] == 0x31, p[i + 8] == HTTPBytes.sp
        else { return .failure(HTTPParseError(.badStatusLine)) }
        var status = 0
        for j in (i + 9)..<(i + 12) {
            let d = p[j]
            guard d >= 0x30, d <= 0x39 else { return .failure(HTTPParseError(.badStatusLine)) }
            status = status * 10 + Int(d - 0x30)
        }
        guard status >= 100 else { return .failure(HTTPParseError(.badStatusLine)) }
        var reasonStart = i + 12
        if reasonStart < cr {
            guard p[reasonStart] == HTTPBytes.sp else { return .failure(HTTPParseError(.badStatusLine)) }
            reasonStart += 1
        }
        for j in reasonStart..<cr where !HTTPBytes.isFieldValueByte(p[j]) { return .failure(HTTPParseError(.badStatusLine)) }
        guard cr + 1 < end else { return .needMore }
        guard p[cr + 1] == HTTPBytes.lf else { return .failure(HTTPParseError(.bareCR)) }
        position = cr + 2
        return .line((status, Int(p[i + 7] - 0x30), reasonStart..<cr))
    }

    private static func lineEnd(_ p: UnsafeRawBufferPointer, from: Int) -> Int? {
        var j = from
        while j < p.count {
            if p[j] == HTTPBytes.cr || p[j] == HTTPBytes.lf { return j }
            j += 1
        }
        return nil
    }
}
