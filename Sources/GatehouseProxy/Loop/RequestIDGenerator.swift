import NIOCore

/// Request ids for one event loop: 16 lower-case hex characters from a xoshiro256** generator
/// seeded once from the system's CSPRNG — no system call per request. The ids name requests in
/// logs; they are not secrets (nothing is authorised by one).
struct RequestIDGenerator {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init() {
        var g = SystemRandomNumberGenerator()
        s = (g.next(), g.next(), g.next(), g.next())
        if s == (0, 0, 0, 0) { s.0 = 1 }
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    mutating func next() -> UInt64 {
        let result = Self.rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = Self.rotl(s.3, 45)
        return result
    }

    /// A fresh id.
    mutating func generate() -> RequestIDBytes { .generated(next()) }
}

/// A request id: 16 hex characters of a generated id (kept as its number: no allocation), or a
/// sane id the client sent (kept verbatim, at most 128 bytes).
enum RequestIDBytes {
    case generated(UInt64)
    case client([UInt8])

    private static let hex: StaticString = "0123456789abcdef"

    /// Writes the id's characters: at most 128 bytes (`isSane`), 16 when generated.
    func write(into out: inout BoundedWriter) {
        switch self {
        case .generated:
            var digits: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &digits) { d in
                writeHex(into: d)
                out.bytes(UnsafeRawBufferPointer(d))
            }
        case .client(let bytes):
            bytes.withUnsafeBytes { out.bytes($0) }
        }
    }

    /// A generated id's 16 hex characters into `d` (16 bytes); nothing for a client's id.
    func writeHex(into d: UnsafeMutableRawBufferPointer) {
        guard case .generated(var v) = self else { return }
        let hex = Self.hex.utf8Start
        for i in (0..<16).reversed() {
            d[i] = hex[Int(v & 0xF)]
            v >>= 4
        }
    }

    var string: String {
        var b = ByteBuffer()
        b.writeBounded(maxBytes: 128) { write(into: &$0) }
        return String(buffer: b)
    }

    /// A client-supplied id is kept only when it is short and plain (1–128 of `[A-Za-z0-9-_.:]`).
    static func isSane(_ p: UnsafeRawBufferPointer) -> Bool {
        guard (1...128).contains(p.count) else { return false }
        for b in p {
            let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") || b == UInt8(ascii: ":")
            if !ok { return false }
        }
        return true
    }
}
