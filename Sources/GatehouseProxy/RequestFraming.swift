import NIOHTTP1

/// How a client request's body is framed (RFC 9112 section 6), decided once from its head before
/// anything of it can reach an upstream. The upstream request is framed from this value alone:
/// no header the client sent — `Connection` naming a framing header included — changes it.
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

    static func decide(_ head: HTTPRequestHead) -> Result<RequestFraming, Refusal> {
        let encodings = head.headers["transfer-encoding"]
        let lengths = head.headers["content-length"]
        let framing: RequestFraming
        if !encodings.isEmpty {
            if head.version.major == 1 && head.version.minor == 0 {
                // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
                return .failure(.invalid("Transfer-Encoding in an HTTP/1.0 request"))
            }
            guard lengths.isEmpty else { return .failure(.invalid("both Content-Length and Transfer-Encoding")) }
            // Exactly `chunked`, once: the value is compared as received (no trimming), so that
            // Gatehouse never calls chunked what the body decoder would not.
            if encodings.count == 1, encodings[0].lowercased() == "chunked" {
                framing = .chunked
            } else {
                let raw = encodings.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
                let codings = raw.map { $0.trimmingSpaces().lowercased() }
                let chunkedCount = codings.filter { $0 == "chunked" }.count
                // A plain list ending in exactly `chunked` (nothing after it, as the body decoder reads it).
                let last = raw.last.map { String($0.drop { $0 == " " || $0 == "\t" }).lowercased() }
                if last == "chunked", chunkedCount == 1, codings.allSatisfy(Self.isToken) {
                    return .failure(.unsupportedCoding("only the chunked transfer coding is supported"))
                }
                return .failure(.invalid("invalid Transfer-Encoding"))
            }
        } else if !lengths.isEmpty {
            guard lengths.count == 1, let n = Self.decimal(lengths[0]) else {
                return .failure(.invalid("invalid Content-Length"))
            }
            framing = n == 0 ? .none : .length(n)
        } else {
            framing = .none
        }
        if head.method == .TRACE, framing != .none {
            // RFC 9110 9.3.8: a TRACE request carries no content, and encoders frame its head
            // without a body: relaying one would put bytes on the upstream connection unframed.
            return .failure(.invalid("a TRACE request cannot carry a body"))
        }
        return .success(framing)
    }

    /// The framing headers of the upstream request, replacing whatever the client sent.
    func apply(to headers: inout HTTPHeaders, method: HTTPMethod) {
        headers.remove(name: "content-length")
        headers.remove(name: "transfer-encoding")
        switch self {
        case .chunked:
            headers.add(name: "transfer-encoding", value: "chunked")
        case .length(let n):
            headers.add(name: "content-length", value: String(n))
        case .none:
            // A method whose requests usually have a body says it has none, so that no encoder
            // or upstream waits for one.
            if Self.usuallyHasBody(method) { headers.add(name: "content-length", value: "0") }
        }
    }

    /// Methods whose requests are expected to carry content (RFC 9110 9.3): all but these.
    static func usuallyHasBody(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .DELETE, .CONNECT, .OPTIONS, .TRACE: false
        default: true
        }
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
        var bytes = target.utf8.makeIterator()
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
