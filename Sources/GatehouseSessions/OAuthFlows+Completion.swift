import GatehouseHTTP
import NIOHTTP1

/// Delivers a completed flow to the tenant's `oauth.completion_url`. A protocol so that tests
/// (and the flow logic) never touch the network.
public protocol CompletionPoster: Sendable {
    /// POSTs `body` (JSON) to `url`; returns the HTTP status. Throws when no response arrived.
    func post(url: String, body: [UInt8]) async throws -> Int
}

/// The real poster: Gatehouse's guarded client, one request, no redirects (a 3xx is a failure
/// to the caller, never followed: the body carries a user token), 5 s for everything.
public struct HTTPCompletionPoster: CompletionPoster {
    private let client: HTTPClient
    private let options: ClientOptions

    public init(client: HTTPClient, timeout: Duration = .seconds(5)) {
        self.client = client
        // The answer is only looked at for its status; a small cap keeps a chatty backend cheap.
        self.options = ClientOptions(timeout: timeout, connectTimeout: min(timeout, .seconds(3)), maxResponseBytes: 64 * 1024)
    }

    public func post(url: String, body: [UInt8]) async throws -> Int {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Accept", value: "application/json")
        let response = try await client.send(ClientRequest(method: .POST, url: url, headers: headers, body: body), options: options)
        return response.statusCode
    }
}
