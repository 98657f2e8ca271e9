import NIOCore

extension ByteBuffer {
    /// A decimal number, no allocation.
    mutating func writeDecimal(_ value: Int) {
        if value < 0 {
            writeInteger(UInt8(ascii: "-"))
            writeDecimal(-value)
            return
        }
        if value < 10 {
            writeInteger(UInt8(0x30 + value))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { out in
            var v = value
            var i = 20
            while v > 0 {
                i -= 1
                out[i] = UInt8(0x30 + v % 10)
                v /= 10
            }
            writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: out[i..<20])))
        }
    }

    /// Lower-case hexadecimal (chunk sizes).
    mutating func writeHex(_ value: Int) {
        let digits: StaticString = "0123456789abcdef"
        if value == 0 {
            writeInteger(UInt8(ascii: "0"))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { out in
            var v = value
            var i = 16
            while v > 0 {
                i -= 1
                out[i] = digits.utf8Start[v & 0xF]
                v >>= 4
            }
            writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: out[i..<16])))
        }
    }

    mutating func writeCRLF() { writeInteger(UInt16(0x0D0A)) }

    /// `s` as a JSON string literal (quotes, escapes for `"`, `\`, controls, DEL, U+2028/2029).
    mutating func writeJSONString(_ s: String) {
        writeInteger(UInt8(ascii: "\""))
        var plain = true
        for b in s.utf8 where b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F || b == 0xE2 {
            plain = false
            break
        }
        if plain {
            writeString(s)
        } else {
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": writeStaticString("\\\"")
                case "\\": writeStaticString("\\\\")
                case "\n": writeStaticString("\\n")
                case "\r": writeStaticString("\\r")
                case "\t": writeStaticString("\\t")
                default:
                    if scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029 {
                        writeStaticString("\\u")
                        let v = Int(scalar.value)
                        let digits: StaticString = "0123456789abcdef"
                        for shift in [12, 8, 4, 0] { writeInteger(digits.utf8Start[(v >> shift) & 0xF]) }
                    } else {
                        writeString(String(scalar))
                    }
                }
            }
        }
        writeInteger(UInt8(ascii: "\""))
    }
}
