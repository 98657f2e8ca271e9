extension RequestHead {
    /// The body's framing (docs/http.md "Framing"), or why it is refused. The same rules as
    /// `RequestFraming.decide`, read off the parsed fields.
    func framing() -> Result<RequestFraming, RequestFraming.Refusal> {
        var encodings: [HeaderField] = []
        var lengths: [HeaderField] = []
        for f in fields {
            if f.kind == .transferEncoding { encodings.append(f) } else if f.kind == .contentLength { lengths.append(f) }
        }
        let framing: RequestFraming
        if !encodings.isEmpty {
            if isHTTP10 { return .failure(.invalid("Transfer-Encoding in an HTTP/1.0 request")) }
            guard lengths.isEmpty else { return .failure(.invalid("both Content-Length and Transfer-Encoding")) }
            // Exactly `chunked`, once, with nothing around it.
            if encodings.count == 1, !encodings[0].padded, valueEquals(encodings[0], "chunked") {
                framing = .chunked
            } else {
                let codings = encodings.flatMap { value($0).split(separator: ",", omittingEmptySubsequences: false) }
                    .map { $0.trimmingSpaces().lowercased() }
                let chunkedCount = codings.filter { $0 == "chunked" }.count
                let lastIsExact = !(encodings.last?.padded ?? false)
                    && value(encodings.last!).split(separator: ",", omittingEmptySubsequences: false).last.map {
                        $0.drop { $0 == " " || $0 == "\t" }.lowercased() == "chunked"
                    } == true
                if lastIsExact, chunkedCount == 1, codings.allSatisfy(RequestFraming.isToken) {
                    return .failure(.unsupportedCoding("only the chunked transfer coding is supported"))
                }
                return .failure(.invalid("invalid Transfer-Encoding"))
            }
        } else if !lengths.isEmpty {
            guard lengths.count == 1, let n = RequestFraming.decimal(value(lengths[0])) else {
                return .failure(.invalid("invalid Content-Length"))
            }
            framing = n == 0 ? .none : .length(n)
        } else {
            framing = .none
        }
        if method == .trace, framing != .none {
            return .failure(.invalid("a TRACE request cannot carry a body"))
        }
        return .success(framing)
    }
}
