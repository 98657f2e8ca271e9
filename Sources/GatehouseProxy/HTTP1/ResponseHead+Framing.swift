extension ResponseHead {
    /// How the response's body is read (RFC 9112 6.3), as strictly as a request's: both
    /// `Content-Length` and `Transfer-Encoding`, a coding other than exactly `chunked`, or
    /// several or malformed lengths are the upstream's fault (502, connection closed).
    func bodyReader(requestMethod: RequestMethod) -> BodyReader? {
        if requestMethod == .head || status < 200 || status == 204 || status == 304 { return BodyReader.none }
        var encodings: [HeaderField] = []
        var lengths: [HeaderField] = []
        for f in fields {
            if f.kind == .transferEncoding { encodings.append(f) } else if f.kind == .contentLength { lengths.append(f) }
        }
        if !encodings.isEmpty {
            guard lengths.isEmpty, encodings.count == 1, !encodings[0].padded, valueEquals(encodings[0], "chunked") else { return nil }
            return .chunked(ChunkedDecoder())
        }
        if !lengths.isEmpty {
            guard lengths.count == 1, let n = RequestFraming.decimal(value(lengths[0])) else { return nil }
            return .length(remaining: n)
        }
        return .untilClose
    }

    /// The length the response declared, if it is framed by one.
    var declaredLength: Int? {
        guard let f = first(.contentLength), count(.contentLength) == 1 else { return nil }
        return RequestFraming.decimal(value(f))
    }

    /// `Connection: close` (or HTTP/1.0 without `keep-alive`): the upstream closes after it.
    var closesConnection: Bool {
        var close = false
        var keepAlive = false
        for f in fields where f.kind == .connection {
            let tokens = connectionTokens(f)
            close = close || tokens.close
            keepAlive = keepAlive || tokens.keepAlive
        }
        return close || (minorVersion == 0 && !keepAlive)
    }
}
