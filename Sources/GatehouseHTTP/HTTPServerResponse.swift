import NIOHTTP1

/// What a handler answers. A `.stream` body is written chunk by chunk, each chunk flushed as it
/// arrives, so server-sent events reach the client one by one.
public struct HTTPServerResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        /// Sent with chunked transfer encoding unless the headers carry a `Content-Length`.
        /// When the client has gone away, the next chunk fails to write and the server stops
        /// iterating, which terminates the stream (its `onTermination` runs) so a producer can
        /// stop too. A stream that yields nothing is only ended by server shutdown.
        case stream(AsyncStream<[UInt8]>)
    }

    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: Body

    public init(status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = .bytes(body)
    }

    public init(status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:], stream: AsyncStream<[UInt8]>) {
        self.status = status
        self.headers = headers
        self.body = .stream(stream)
    }
}

/// A handler may carry a finished answer as the failure of a `Result` (or throw it) to stop early:
/// "refuse with this response".
extension HTTPServerResponse: Error {}
