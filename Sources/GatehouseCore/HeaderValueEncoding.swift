/// Turns a claim value into a header value (tenants/README.md).
///
/// Strings go as they are; numbers and booleans as JSON text; arrays of strings joined with
/// `,`; other arrays and objects as compact JSON. Non-ASCII is percent-encoded (UTF-8).
/// A value holding a control character yields nil: the header is left out, never sent, so a
/// claim can never inject a header line.
public enum HeaderValueEncoding {
    public static func encode(_ value: JSONValue) -> String? {
        let text: String
        switch value {
        case .null: text = "null"
        case .bool(let b): text = b ? "true" : "false"
        case .number(let n): text = n
        case .string(let s): text = s
        case .array(let items):
            var strings: [String] = []
            strings.reserveCapacity(items.count)
            for item in items {
                guard case .string(let s) = item else { strings = []; break }
                strings.append(s)
            }
            if strings.count == items.count {
                text = strings.joined(separator: ",")
            } else {
                text = value.compactText
            }
        case .object: text = value.compactText
        }
        return sanitize(text)
    }

    /// Nil when `text` holds a control character; otherwise the text with every non-ASCII
    /// byte percent-encoded.
    public static func sanitize(_ text: String) -> String? {
        var needsEncoding = false
        for b in text.utf8 {
            if b < 0x20 || b == 0x7F { return nil }
            if b >= 0x80 { needsEncoding = true }
        }
        guard needsEncoding else { return text }
        // Unicode control characters (C1, U+2028/9 etc.) are refused too, not just encoded.
        for scalar in text.unicodeScalars where scalar.properties.generalCategory == .control {
            return nil
        }
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count * 2)
        let hex = Array("0123456789ABCDEF".utf8)
        for b in text.utf8 {
            if b >= 0x80 {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0x0F)])
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
