import NIOCore

/// Writes a line of many small pieces (the access line) into space reserved once in a
/// `ByteBuffer`: one capacity check and one buffer access for the whole line instead of one per
/// piece, which is most of what writing such a line costs. The caller reserves an upper bound;
/// going past it stops the process rather than write outside the reservation.
struct BoundedWriter {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private(set) var count = 0

    init(_ space: UnsafeMutableRawBufferPointer) {
        base = space.baseAddress!
        capacity = space.count
    }

    /// The most bytes `jsonString` writes for a string of `utf8Count` bytes: every byte as a
    /// `\u00XX` escape, and the quotes.
    static func jsonBound(_ utf8Count: Int) -> Int { 6 * utf8Count + 2 }

    @inline(__always)
    mutating func byte(_ b: UInt8) {
        precondition(count < capacity, "bounded write past its reservation")
        base.storeBytes(of: b, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    mutating func bytes(_ p: UnsafeRawBufferPointer) {
        guard let source = p.baseAddress, p.count > 0 else { return }
        precondition(count + p.count <= capacity, "bounded write past its reservation")
        (base + count).copyMemory(from: source, byteCount: p.count)
        count += p.count
    }

    mutating func crlf() {
        byte(HTTPBytes.cr)
        byte(HTTPBytes.lf)
    }

    mutating func staticString(_ s: StaticString) {
        bytes(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { bytes(UnsafeRawBufferPointer($0)) }
    }

    mutating func decimal(_ value: Int) {
        if value < 0 { byte(UInt8(ascii: "-")) }
        var v = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        withUnsafeMutableBytes(of: &digits) { d in
            var i = d.count
            repeat {
                i -= 1
                d[i] = UInt8(0x30 + v % 10)
                v /= 10
            } while v > 0
            bytes(UnsafeRawBufferPointer(rebasing: d[i...]))
        }
    }

    /// `s` as a JSON string literal, exactly as `ByteBuffer.writeJSONString` writes it; a string
    /// with nothing to escape (the usual case) is copied as it is.
    mutating func jsonString(_ s: String) {
        var s = s
        let copied = s.withUTF8 { utf8 -> Bool in
            for b in utf8 where b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F || b == 0xE2 { return false }
            byte(UInt8(ascii: "\""))
            bytes(UnsafeRawBufferPointer(utf8))
            byte(UInt8(ascii: "\""))
            return true
        }
        if copied { return }
        var escaped = ByteBuffer()
        escaped.writeJSONString(s)
        escaped.withUnsafeReadableBytes { bytes($0) }
    }
}

extension ByteBuffer {
    /// Reserves `maxBytes` and lets `body` write up to that many through a `BoundedWriter`.
    mutating func writeBounded(maxBytes: Int, _ body: (inout BoundedWriter) -> Void) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: maxBytes) { space in
            // Exactly the reservation, not whatever the buffer's growth left beyond it: a bound
            // that is too small fails the same way every time, not only near a power of two.
            var writer = BoundedWriter(UnsafeMutableRawBufferPointer(rebasing: space[..<maxBytes]))
            body(&writer)
            return writer.count
        }
    }
}
