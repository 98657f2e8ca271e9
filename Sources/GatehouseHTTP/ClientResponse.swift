import GatehouseCore
import NIOCore
import NIOHTTP1

public struct ClientResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// `max-age` from `Cache-Control`, in seconds, when present and well-formed.
    public var cacheControlMaxAge: Int?
    /// The address the response came from.
    public var remoteAddress: SocketAddress

    public init(status: HTTPResponseStatus, headers: HTTPHeaders, body: [UInt8], remoteAddress: SocketAddress) {
        self.status = status
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.cacheControlMaxAge = CacheControl.maxAge(headers)
    }

    public var statusCode: Int { Int(status.code) }

    /// The body parsed as JSON (strictly, see `JSONParser`).
    public func json(limits: JSONParser.Limits = JSONParser.Limits()) throws -> JSONValue {
        try JSONParser.parse(body, limits: limits)
    }
}
