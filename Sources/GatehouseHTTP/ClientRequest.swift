import GatehouseCore
import NIOHTTP1

public struct ClientRequest: Sendable {
    public var method: HTTPMethod
    /// An absolute `http://` or `https://` URL.
    public var url: String
    /// `Host`, `Content-Length` and `Connection` are set by the client and override these;
    /// `Transfer-Encoding` is dropped (the body is sent whole, with its length).
    public var headers: HTTPHeaders
    public var body: [UInt8]?

    public init(method: HTTPMethod = .GET, url: String, headers: HTTPHeaders = [:], body: [UInt8]? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    /// A POST with a compact JSON body.
    public static func postJSON(url: String, _ value: JSONValue, headers: HTTPHeaders = [:]) -> ClientRequest {
        var h = headers
        h.replaceOrAdd(name: "Content-Type", value: "application/json")
        return ClientRequest(method: .POST, url: url, headers: h, body: Array(value.compactText.utf8))
    }

    /// A POST with an `application/x-www-form-urlencoded` body.
    public static func postForm(url: String, _ fields: [(name: String, value: String)], headers: HTTPHeaders = [:]) -> ClientRequest {
        var h = headers
        h.replaceOrAdd(name: "Content-Type", value: "application/x-www-form-urlencoded")
        return ClientRequest(method: .POST, url: url, headers: h, body: Array(FormURLEncoding.encode(fields).utf8))
    }
}
