import GatehouseCore
import GatehouseHTTP
import GatehouseIdentity

/// Fetches IdP discovery and key-set documents over real HTTP(S): no redirects, bounded size
/// and time (the client's defaults: 256 KiB, 5 s), and — unless the host is listed in
/// `identity.insecure_idp_hosts` — https only and public addresses only, checked on the address
/// actually connected to (docs/admin-api.md "Request-forgery guard"). A discovery document can name any `jwks_uri`, so this
/// guards file-declared IdPs too, not just the ones tenant admins register.
struct HTTPDocumentFetcher: DocumentFetcher {
    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    let client: HTTPClient
    /// Lower-cased host names exempt from the guard (dev/test only).
    let insecureHosts: Set<String>

    /// The deadlines of every fetch (the defaults unless a caller, such as a test, says otherwise).
    let baseOptions: ClientOptions

    init(client: HTTPClient, insecureHosts: [String], baseOptions: ClientOptions = ClientOptions()) {
        self.client = client
        self.insecureHosts = Set(insecureHosts.map { $0.lowercased() })
        self.baseOptions = baseOptions
    }

    func get(_ url: String) async throws -> FetchedDocument {
        guard let parsed = ParsedURL(url) else { throw Refused(description: "not an absolute URL") }
        var options = baseOptions
        if !insecureHosts.contains(parsed.host) {
            guard parsed.scheme == "https" else { throw Refused(description: "\(parsed.host): only https is allowed") }
            options.addressPolicy = AddressPolicy.publicOnly
        }
        let response = try await client.send(ClientRequest(method: .GET, url: url), options: options)
        return FetchedDocument(status: response.statusCode, body: response.body, cacheControlMaxAge: response.cacheControlMaxAge)
    }
}
