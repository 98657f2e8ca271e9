/// Why `HTTPClient.send` failed. A struct over a private enum so that new codes can be added
/// without breaking callers that switch on the ones they care about.
public struct HTTPClientError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidURL = "invalid_url"
            case refusedAddress = "refused_address"
            case connectFailed = "connect_failed"
            case tlsFailed = "tls_failed"
            case timeout
            case tooLarge = "too_large"
            case badResponse = "bad_response"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Not an absolute http(s) URL, or one carrying user info.
        public static let invalidURL = Code(.invalidURL)
        /// Every address the host resolved to was refused by `ClientOptions.addressPolicy`.
        public static let refusedAddress = Code(.refusedAddress)
        /// The name did not resolve, or no address accepted a connection.
        public static let connectFailed = Code(.connectFailed)
        /// The TLS handshake failed (untrusted certificate, wrong host name, …).
        public static let tlsFailed = Code(.tlsFailed)
        /// `ClientOptions.timeout` passed before the whole response arrived.
        public static let timeout = Code(.timeout)
        /// The response body exceeded `ClientOptions.maxResponseBytes`.
        public static let tooLarge = Code(.tooLarge)
        /// The peer sent something that is not a complete HTTP response.
        public static let badResponse = Code(.badResponse)

        /// Stable and low-cardinality: fit for a metric label.
        public var description: String { base.rawValue }
    }

    public let code: Code
    /// For the log. Names the host, never the path or query of the URL.
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}
