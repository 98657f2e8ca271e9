/// How a client request's body is framed (RFC 9112 section 6), decided once from its head
/// (`RequestHead.framing`) before anything of it can reach an upstream. The upstream request is
/// framed from this value alone: no header the client sent — `Connection` naming a framing
/// header included — changes it.
enum RequestFraming: Equatable {
    /// No body.
    case none
    /// Exactly this many bytes of body.
    case length(Int)
    /// A chunked body (the only transfer coding Gatehouse accepts).
    case chunked

    /// Why a head's framing is refused. Every refusal closes the connection after the answer:
    /// where one message ends is unknown, so nothing after it can be trusted.
    enum Refusal: Error, Equatable {
        /// 400: the framing is invalid or ambiguous.
        case invalid(String)
        /// 501: a transfer coding Gatehouse does not implement (`gzip, chunked`): forwarding it as
        /// `chunked` would lose the coding, and decoding it is not a proxy's job.
        case unsupportedCoding(String)
    }

    /// 1 to 18 ASCII digits: no sign, no spaces, no list, no overflow.
    static func decimal(_ text: String) -> Int? {
        let bytes = text.utf8
        guard (1...18).contains(bytes.count) else { return nil }
        var n = 0
        for b in bytes {
            guard b >= 0x30, b <= 0x39 else { return nil }
            n = n * 10 + Int(b - 0x30)
        }
        return n
    }

    /// An RFC 9110 token (a transfer-coding name).
    static func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy(HTTPSyntax.isTokenByte)
    }
}

/// Byte classes of the HTTP grammar (RFC 9110 5.6.2, RFC 3986 2).
enum HTTPSyntax {
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    static func isHexDigit(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
    }

    /// An origin-form request target (RFC 9112 3.2.1): `/`, then path and query characters of
    /// RFC 3986 — unreserved, sub-delims, `:` `@` `/` `?`, `[` `]` (common in queries, and
    /// harmless to every parser on the way) — and `%` only as a complete percent-encoding. No
    /// fragment, space, control, quote, `\`, `<`, `>`, `^`, backquote, braces, `|` or non-ASCII
    /// byte: those are the client's error (400), refused before routing, so that an upstream never
    /// sees a target its parser could read differently (or refuse and be blamed for it).
    static func isValidOriginForm(_ target: String) -> Bool {
        var copy = target
        return copy.withUTF8 { isValidOriginForm(UnsafeRawBufferPointer($0)) }
    }

    static func isValidOriginForm(_ target: UnsafeRawBufferPointer) -> Bool {
        var bytes = target.makeIterator()
        guard bytes.next() == UInt8(ascii: "/") else { return false }
        while let b = bytes.next() {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
                UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
                UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="),
                UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "["), UInt8(ascii: "]"):
                continue
            case UInt8(ascii: "%"):
                guard let h1 = bytes.next(), let h2 = bytes.next(), isHexDigit(h1), isHexDigit(h2) else { return false }
            default:
                return false
            }
        }
        return true
    }
}
