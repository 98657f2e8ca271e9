/// A strict JSON parser for hostile input (token headers and payloads, key-set documents,
/// admin request bodies).
///
/// Limits are explicit: nesting depth (a deeply nested document must not exhaust the stack)
/// and total size. Duplicate object keys are refused: two parsers reading the same token
/// differently is how claim-confusion attacks start.
public struct JSONParser {
    public struct Limits: Sendable {
        public var maxDepth: Int
        public var maxBytes: Int
        public init(maxDepth: Int = 32, maxBytes: Int = 1 << 20) {
            self.maxDepth = maxDepth
            self.maxBytes = maxBytes
        }
    }

    public struct Error: Swift.Error, Sendable, CustomStringConvertible {
        public let message: String
        public let offset: Int
        public var description: String { "invalid JSON at byte \(offset): \(message)" }
    }

    public static func parse<C: Collection>(_ bytes: C, limits: Limits = Limits()) throws(Error) -> JSONValue
    where C.Element == UInt8 {
        let array = Array(bytes)
        guard array.count <= limits.maxBytes else {
            throw Error(message: "document larger than \(limits.maxBytes) bytes", offset: 0)
        }
        var parser = JSONParser(bytes: array, maxDepth: limits.maxDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == array.count else { throw parser.error("trailing characters") }
        return value
    }

    public static func parse(_ text: String, limits: Limits = Limits()) throws(Error) -> JSONValue {
        try parse(Array(text.utf8), limits: limits)
    }

    private let bytes: [UInt8]
    private let maxDepth: Int
    private var index = 0

    private init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    private func error(_ message: String) -> Error { Error(message: message, offset: index) }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(Error) -> JSONValue {
        guard depth <= maxDepth else { throw error("nested deeper than \(maxDepth)") }
        guard index < bytes.count else { throw error("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(Error) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("unexpected end") }
        let ptr = literal.utf8Start
        for i in 0..<count where bytes[index + i] != ptr[i] {
            throw error("invalid literal")
        }
        index += count
    }

    private mutating func parseObject(depth: Int) throws(Error) -> JSONValue {
        var members: [String: JSONValue] = [:]
        try forEachMember { (p: inout JSONParser, key: String) throws(Error) in
            members[key] = try p.parseValue(depth: depth)
        }
        return .object(members)
    }

    private mutating func parseArray(depth: Int) throws(Error) -> JSONValue {
        var items: [JSONValue] = []
        try forEachElement { (p: inout JSONParser) throws(Error) in items.append(try p.parseValue(depth: depth)) }
        return .array(items)
    }

    /// The object whose `{` is at `index`: each member's key is read and handed to `value`,
    /// which must read the value (the parser is at its first byte). Separators, keys and
    /// duplicate keys (compared as decoded strings, as a dictionary compares them) are checked
    /// here once, for the tree parser and the scanner alike.
    private mutating func forEachMember(_ value: (inout JSONParser, String) throws(Error) -> Void) throws(Error) {
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        // A few keys compare faster in a list; a long object switches to a set.
        var keys: [String] = []
        var keySet: Set<String> = []
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key") }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            try value(&self, key)
            if keys.count < 16 {
                guard !keys.contains(key) else { throw error("duplicate key") }
                keys.append(key)
                if keys.count == 16 { keySet = Set(keys) }
            } else {
                guard keySet.insert(key).inserted else { throw error("duplicate key") }
            }
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return }
            throw error("expected ',' or '}'")
        }
    }

    /// The array whose `[` is at `index`: `element` reads each element.
    private mutating func forEachElement(_ element: (inout JSONParser) throws(Error) -> Void) throws(Error) {
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func parseNumber() throws(Error) -> JSONValue {
        .number(String(decoding: bytes[try scanNumber()], as: UTF8.self))
    }

    /// Validates a number (RFC 8259 grammar, at most 64 characters) and returns its bytes.
    private mutating func scanNumber() throws(Error) -> Range<Int> {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        guard index - start <= 64 else { throw error("number too long") }
        return start..<index
    }

    private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    private mutating func parseString() throws(Error) -> String {
        // Printable ASCII up to the closing quote, no escape: the usual key or claim is its bytes.
        var j = index + 1
        while j < bytes.count {
            let b = bytes[j]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: bytes[(index + 1)..<j], as: UTF8.self)
                index = j + 1
                return s
            }
            if b < 0x20 || b >= 0x80 || b == UInt8(ascii: "\\") { break }
            j += 1
        }
        index += 1  // opening quote
        var scalars = String.UnicodeScalarView()
        var runStart = index
        func flushRun(_ p: inout JSONParser, _ scalars: inout String.UnicodeScalarView, upTo end: Int) throws(Error) {
            if end > runStart {
                guard let s = String(validating: p.bytes[runStart..<end], as: UTF8.self) else {
                    throw p.error("invalid UTF-8")
                }
                scalars.append(contentsOf: s.unicodeScalars)
            }
        }
        while true {
            guard index < bytes.count else { throw error("unterminated string") }
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                try flushRun(&self, &scalars, upTo: index)
                index += 1
                return String(scalars)
            }
            if b < 0x20 { throw error("control character in string") }
            if b == UInt8(ascii: "\\") {
                try flushRun(&self, &scalars, upTo: index)
                index += 1
                guard index < bytes.count else { throw error("unterminated escape") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"): scalars.append(try parseEscapedScalar())
                default: throw error("invalid escape")
                }
                runStart = index
                continue
            }
            index += 1
        }
    }

    /// The scalar of a `\u` escape (the `\u` already read); a surrogate must come as a pair.
    private mutating func parseEscapedScalar() throws(Error) -> Unicode.Scalar {
        let first = try parseHex4()
        guard (0xD800...0xDBFF).contains(first) else {
            guard let scalar = Unicode.Scalar(first) else { throw error("lone surrogate") }
            return scalar
        }
        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
            throw error("lone surrogate")
        }
        index += 2
        let second = try parseHex4()
        guard (0xDC00...0xDFFF).contains(second) else { throw error("lone surrogate") }
        return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))!
    }

    private mutating func parseHex4() throws(Error) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}

// MARK: - One pass, no tree

extension JSONParser {
    /// Checks `bytes` exactly as `parse` would and, when it is an object, returns it scanned
    /// (`ScannedObject`) without building a tree; nil when it is valid JSON but not an object.
    public static func scanObject<C: Collection>(_ bytes: C, limits: Limits = Limits()) throws(Error) -> ScannedObject?
    where C.Element == UInt8 {
        let array = Array(bytes)
        guard array.count <= limits.maxBytes else {
            throw Error(message: "document larger than \(limits.maxBytes) bytes", offset: 0)
        }
        var parser = JSONParser(bytes: array, maxDepth: limits.maxDepth)
        parser.skipWhitespace()
        guard parser.index < array.count, array[parser.index] == UInt8(ascii: "{") else {
            _ = try parser.skipValue(depth: 0)
            try parser.expectEnd()
            return nil
        }
        var members: [ScannedObject.Member] = []
        try parser.skipObject(depth: 1) { key, start, end, kind, plain in
            members.append(ScannedObject.Member(key: key, start: start, end: end, kind: kind, plain: plain))
        }
        try parser.expectEnd()
        return ScannedObject(bytes: array, members: members)
    }

    private mutating func expectEnd() throws(Error) {
        skipWhitespace()
        guard index == bytes.count else { throw error("trailing characters") }
    }

    /// Validates one value; returns its kind and, for a string, whether it has no escapes.
    private mutating func skipValue(depth: Int) throws(Error) -> (ScannedObject.Kind, Bool) {
        guard depth <= maxDepth else { throw error("nested deeper than \(maxDepth)") }
        guard index < bytes.count else { throw error("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"): try skipObject(depth: depth + 1) { _, _, _, _, _ in }; return (.object, false)
        case UInt8(ascii: "["): try skipArray(depth: depth + 1); return (.array, false)
        case UInt8(ascii: "\""): return (.string, try skipString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return (.bool, false)
        case UInt8(ascii: "f"): try expectLiteral("false"); return (.bool, false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return (.null, false)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try scanNumber(); return (.number, false)
        default: throw error("unexpected character")
        }
    }

    /// Validates an object, handing each member (key, value bytes, kind, plain) to `member`.
    private mutating func skipObject(
        depth: Int, _ member: (String, Int, Int, ScannedObject.Kind, Bool) -> Void
    ) throws(Error) {
        try forEachMember { (p: inout JSONParser, key: String) throws(Error) in
            let start = p.index
            let (kind, plain) = try p.skipValue(depth: depth)
            member(key, start, p.index, kind, plain)
        }
    }

    private mutating func skipArray(depth: Int) throws(Error) {
        try forEachElement { (p: inout JSONParser) throws(Error) in _ = try p.skipValue(depth: depth) }
    }

    /// Validates a string as `parseString` does, without building it; true when it has no escapes.
    private mutating func skipString() throws(Error) -> Bool {
        index += 1  // opening quote
        var plain = true
        var runStart = index
        var ascii = true
        while true {
            guard index < bytes.count else { throw error("unterminated string") }
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                if !ascii { try validateUTF8(runStart..<index) }
                index += 1
                return plain
            }
            if b < 0x20 { throw error("control character in string") }
            if b == UInt8(ascii: "\\") {
                if !ascii { try validateUTF8(runStart..<index) }
                plain = false
                index += 1
                guard index < bytes.count else { throw error("unterminated escape") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    _ = try parseEscapedScalar()
                default: throw error("invalid escape")
                }
                runStart = index
                ascii = true
                continue
            }
            if b >= 0x80 { ascii = false }
            index += 1
        }
    }

    private func validateUTF8(_ range: Range<Int>) throws(Error) {
        do {
            _ = try UTF8Span(validating: bytes.span.extracting(range))
        } catch {
            throw self.error("invalid UTF-8")
        }
    }
}
