/// Byte classes of the HTTP/1.1 grammar (RFC 9110 5.6, RFC 9112) and the name folding of the
/// strip rule, as small inlinable functions over single bytes: the parsers call them once per
/// byte of every head, so they stay branch-light and allocation-free.
enum HTTPBytes {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A

    /// tchar (RFC 9110 5.6.2).
    @inline(__always)
    static func isTChar(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
    }

    /// A byte allowed inside a field value: VCHAR, obs-text, SP, HTAB — no other control, no DEL.
    @inline(__always)
    static func isFieldValueByte(_ b: UInt8) -> Bool {
        b >= 0x20 ? b != 0x7F : b == htab
    }

    /// Whether any of the eight bytes of `w` is below 0x20 or is 0x7F (exact, not a heuristic:
    /// the "has a byte less than n" and "has a zero byte" word tricks, n = 0x20).
    @inline(__always)
    static func hasControlOrDEL(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let below20 = (w &- ones &* 0x20) & ~w & highs
        let x = w ^ (ones &* 0x7F)
        let del = (x &- ones) & ~x & highs
        return (below20 | del) != 0
    }

    /// base64url and the `.` of a compact JWS (what a bearer token may hold here), as a bitmap.
    @inline(__always)
    static func isTokenByte(_ b: UInt8) -> Bool {
        // '-' 0x2D, '.' 0x2E, '0'...'9' 0x30-0x39 in the low word; 'A'...'Z', '_', 'a'...'z' in the high.
        let low: UInt64 = 0x03FF_6000_0000_0000
        let high: UInt64 = 0x07FF_FFFE_87FF_FFFE
        let word = b < 64 ? low : high
        return b < 128 && (word >> UInt64(b & 63)) & 1 == 1
    }

    /// Whether every byte in `range` of `p` is a token byte (`isTokenByte`): one table load and
    /// one OR per byte, no branch, judged once at the end.
    static func allTokenBytes(_ p: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        guard let base = p.baseAddress, range.upperBound <= p.count else { return range.isEmpty }
        return notTokenByte.withUnsafeBufferPointer { table in
            var bad: UInt8 = 0
            for i in range { bad |= table[Int(base.load(fromByteOffset: i, as: UInt8.self))] }
            return bad == 0
        }
    }

    /// 1 for every byte `isTokenByte` refuses.
    private static let notTokenByte: [UInt8] = (0...255).map { isTokenByte(UInt8($0)) ? 0 : 1 }

    /// A byte allowed in a request target or reason phrase position: visible, no SP, no control.
    @inline(__always)
    static func isVisible(_ b: UInt8) -> Bool { b > 0x20 && b != 0x7F }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    /// Lower case with `_` as `-`: the strip rule's name folding.
    @inline(__always)
    static func fold(_ b: UInt8) -> UInt8 {
        if b >= 0x41 && b <= 0x5A { return b | 0x20 }
        return b == 0x5F ? 0x2D : b
    }

    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// FNV-1a over folded bytes: the key of `FieldNameTable` (hits are confirmed byte by byte).
    static let fnvOffset: UInt64 = 0xcbf2_9ce4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01B3

    @inline(__always)
    static func fnv(_ hash: UInt64, _ b: UInt8) -> UInt64 { (hash ^ UInt64(b)) &* fnvPrime }

    static func foldedHash<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h = fnvOffset
        for b in bytes { h = fnv(h, fold(b)) }
        return h
    }
}
