/// Random request ids: 16 hex characters from the system generator.
enum RequestID {
    private static let hex = Array("0123456789abcdef".utf8)

    static func generate() -> String {
        var g = SystemRandomNumberGenerator()
        var value = g.next() as UInt64
        var out = [UInt8](repeating: 0, count: 16)
        for i in (0..<16).reversed() {
            out[i] = hex[Int(value & 0xF)]
            value >>= 4
        }
        return String(decoding: out, as: UTF8.self)
    }
}
