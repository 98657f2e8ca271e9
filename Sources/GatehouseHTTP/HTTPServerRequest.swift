import NIOHTTP1

/// One request as `SimpleHTTPServer` hands it to a handler: head plus the whole (bounded) body.
public struct HTTPServerRequest: Sendable {
    public var method: HTTPMethod
    public var version: HTTPVersion
    /// The raw request target, exactly as received.
    public var uri: String
    /// The target up to `?`, not percent-decoded: decoding is left to whoever interprets it, so
    /// `%2F` can never silently become a path separator.
    public var path: String
    /// The raw text after the first `?`, when there is one.
    public var query: String?
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// The peer's IP address (no port), when known.
    public var remoteAddress: String?

    public init(
        method: HTTPMethod, uri: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:],
        body: [UInt8] = [], remoteAddress: String? = nil
    ) {
        self.method = method
        self.version = version
        self.uri = uri
        if let q = uri.firstIndex(of: "?") {
            path = String(uri[..<q])
            query = String(uri[uri.index(after: q)...])
        } else {
            path = uri
            query = nil
        }
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
    }

    /// Query parameters, form-decoded. A name given twice keeps its first value.
    public var queryParameters: [String: String] {
        guard let query else { return [:] }
        return FormURLEncoding.firstValues(FormURLEncoding.parse(query))
    }
}
