/// Strict base64url (RFC 4648 section 5) without padding, as used by JWS compact serialisation.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    /// Each byte's six bits in the alphabet, or 0x40 for a byte outside it.
    private static let decodeBits: [UInt32] = {
        var table = [UInt32](repeating: 0x40, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt32(i) }
        return table
    }()

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var it = bytes.makeIterator()
        while let b0 = it.next() {
            let b1 = it.next()
            let b2 = it.next()
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)])
            if let b1 {
                out.append(alphabet[Int((b1 & 0x0F) << 2 | (b2 ?? 0) >> 6)])
                if let b2 { out.append(alphabet[Int(b2 & 0x3F)]) }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func encode(_ string: String) -> String { encode(Array(string.utf8)) }

    /// Decodes unpadded base64url. Returns nil for any character outside the alphabet, padding,
    /// an impossible length, or non-zero trailing bits (so each input has exactly one meaning).
    public static func decode<C: Collection>(_ input: C) -> [UInt8]? where C.Element == UInt8 {
        // One non-generic loop over contiguous bytes: the generic one, unspecialised across
        // modules, allocated per character.
        if let decoded = input.withContiguousStorageIfAvailable(decode(bytes:)) { return decoded }
        return Array(input).withUnsafeBufferPointer(decode(bytes:))
    }

    /// Four characters to three bytes at a time, straight into the result's storage; a
    /// character outside the alphabet marks the whole input bad (the table gives it bit 6).
    private static func decode(bytes input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let count = input.count
        let rest = count % 4
        if rest == 1 { return nil }
        let outCount = count / 4 * 3 + (rest == 0 ? 0 : rest - 1)
        var bad: UInt32 = 0
        let out = decodeBits.withUnsafeBufferPointer { table in
            [UInt8](unsafeUninitializedCapacity: outCount) { buffer, initialized in
                var i = 0
                var o = 0
                while i + 4 <= count {
                    let a = table[Int(input[i])], b = table[Int(input[i + 1])]
                    let c = table[Int(input[i + 2])], d = table[Int(input[i + 3])]
                    bad |= a | b | c | d
                    let n = (a & 0x3F) << 18 | (b & 0x3F) << 12 | (c & 0x3F) << 6 | (d & 0x3F)
                    buffer[o] = UInt8(truncatingIfNeeded: n >> 16)
                    buffer[o + 1] = UInt8(truncatingIfNeeded: n >> 8)
                    buffer[o + 2] = UInt8(truncatingIfNeeded: n)
                    i += 4
                    o += 3
                }
                if rest >= 2 {
                    let a = table[Int(input[i])], b = table[Int(input[i + 1])]
                    let c = rest == 3 ? table[Int(input[i + 2])] : 0
                    bad |= a | b | c
                    let n = (a & 0x3F) << 18 | (b & 0x3F) << 12 | (c & 0x3F) << 6
                    // The bits after the last whole byte must be zero: one meaning per input.
                    if n & (rest == 2 ? 0xFFFF : 0xFF) != 0 { bad |= 0x40 }
                    buffer[o] = UInt8(truncatingIfNeeded: n >> 16)
                    if rest == 3 { buffer[o + 1] = UInt8(truncatingIfNeeded: n >> 8) }
                }
                initialized = outCount
            }
        }
        return bad & 0x40 == 0 ? out : nil
    }

    public static func decode(_ string: Substring) -> [UInt8]? {
        var copy = string
        return copy.withUTF8(decode(bytes:))
    }

    public static func decode(_ string: String) -> [UInt8]? {
        var copy = string
        return copy.withUTF8(decode(bytes:))
    }
}
