import GatehouseHTTP
import GatehouseIdentity

/// Fetches IdP discovery and key-set documents over real HTTP(S): no redirects, bounded size
/// and time (the client's defaults: 256 KiB, 5 s).
struct HTTPDocumentFetcher: DocumentFetcher {
    let client: HTTPClient

    func get(_ url: String) async throws -> FetchedDocument {
        let response = try await client.send(ClientRequest(method: .GET, url: url), options: ClientOptions())
        return FetchedDocument(status: response.statusCode, body: response.body, cacheControlMaxAge: response.cacheControlMaxAge)
    }
}
