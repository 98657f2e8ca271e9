import CNGHTTP2

/// Header fields for nghttp2, built without a `String` per field: names and values are copied
/// into one byte array, and `withNV` hands nghttp2 pointers into it (which it copies in turn).
/// A connection keeps one and reuses its storage for every response.
struct HTTP2FieldList {
    private var bytes: [UInt8] = []
    private var spans: [(name: Range<Int>, value: Range<Int>, noIndex: Bool)] = []

    init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
        spans.reserveCapacity(16)
    }

    var count: Int { spans.count }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
    }

    /// Adds a field; the name is lower-cased (HTTP/2 field names are lower case). `noIndex`: a
    /// value that changes with every response (it would only churn the peer's HPACK table).
    mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, noIndex: Bool = false) {
        let nameStart = bytes.count
        for b in name { bytes.append(HTTPBytes.lower(b)) }
        let valueStart = bytes.count
        bytes.append(contentsOf: value)
        spans.append((nameStart..<valueStart, valueStart..<bytes.count, noIndex))
    }

    mutating func add(_ name: StaticString, _ value: StaticString) {
        add(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount),
            value: UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    mutating func add(_ name: String, _ value: String) {
        var name = name
        var value = value
        name.withUTF8 { n in value.withUTF8 { v in add(name: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v)) } }
    }

    /// A non-negative decimal value.
    mutating func add(_ name: StaticString, decimal: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { d in
            var v = max(decimal, 0)
            var i = d.count
            repeat {
                i -= 1
                d[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            } while v > 0 && i > 0
            add(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value: UnsafeRawBufferPointer(rebasing: d[i...]))
        }
    }

    mutating func add(_ name: StaticString, requestID: RequestIDBytes) {
        switch requestID {
        case .generated:
            var digits: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &digits) { d in
                requestID.writeHex(into: d)
                add(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value: UnsafeRawBufferPointer(d), noIndex: true)
            }
        case .client(let bytes):
            bytes.withUnsafeBytes {
                add(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value: $0, noIndex: true)
            }
        }
    }

    func withNV<T>(_ body: (UnsafePointer<nghttp2_nv>, Int) -> T) -> T {
        bytes.withUnsafeBufferPointer { p in
            let base = UnsafeMutablePointer(mutating: p.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            return withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: max(spans.count, 1)) { nva in
                for (i, span) in spans.enumerated() {
                    nva[i] = nghttp2_nv(
                        name: base + span.name.lowerBound, value: base + span.value.lowerBound, namelen: span.name.count,
                        valuelen: span.value.count, flags: UInt8(span.noIndex ? NGHTTP2_NV_FLAG_NO_INDEX.rawValue : NGHTTP2_NV_FLAG_NONE.rawValue))
                }
                return body(nva.baseAddress!, spans.count)
            }
        }
    }
}
