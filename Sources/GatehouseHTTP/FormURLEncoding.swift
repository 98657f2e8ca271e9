/// `application/x-www-form-urlencoded` decoding, for query strings and form bodies.
public enum FormURLEncoding {
    /// Pairs in order. `+` is a space; a malformed percent escape keeps its text as it is, and a
    /// sequence that is not UTF-8 is replaced rather than refused (the caller validates values).
    public static func parse(_ text: String) -> [(name: String, value: String)] {
        var out: [(String, String)] = []
        for part in text.split(separator: "&", omittingEmptySubsequences: true) {
            if let eq = part.firstIndex(of: "=") {
                out.append((decode(part[..<eq]), decode(part[part.index(after: eq)...])))
            } else {
                out.append((decode(part), ""))
            }
        }
        return out
    }

    public static func parse(_ bytes: [UInt8]) -> [(name: String, value: String)] {
        parse(String(decoding: bytes, as: UTF8.self))
    }

    public static func firstValues(_ pairs: [(name: String, value: String)]) -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in pairs where out[name] == nil { out[name] = value }
        return out
    }

    public static func decode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var it = Array(text.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "+") {
                bytes.append(0x20)
            } else if b == UInt8(ascii: "%"), it.count >= 2, let hi = hexValue(it[it.startIndex]),
                let lo = hexValue(it[it.startIndex + 1])
            {
                bytes.append(hi << 4 | lo)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Encodes a name or value: unreserved characters stay, everything else is `%XX`.
    public static func encode(_ text: String) -> String {
        var out = ""
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(b >> 4)])
                out.unicodeScalars.append(hex[Int(b & 0x0F)])
            }
        }
        return out
    }

    /// `name=value&…`, each part encoded.
    public static func encode(_ pairs: [(name: String, value: String)]) -> String {
        pairs.map { encode($0.name) + "=" + encode($0.value) }.joined(separator: "&")
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
