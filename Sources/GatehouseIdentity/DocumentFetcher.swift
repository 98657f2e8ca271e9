/// One HTTP response body from an IdP URL (discovery document or key set).
public struct FetchedDocument: Sendable {
    public var status: Int
    public var body: [UInt8]
    /// `Cache-Control: max-age` in seconds, when the response carried one.
    public var cacheControlMaxAge: Int?

    public init(status: Int, body: [UInt8], cacheControlMaxAge: Int? = nil) {
        self.status = status
        self.body = body
        self.cacheControlMaxAge = cacheControlMaxAge
    }
}

/// The network edge of identity: fetches one IdP document.
///
/// Kept to one method so that key-set logic is tested without sockets. The production
/// implementation must enforce the IdP-URL guard (https, public addresses checked on the address
/// connected to, e.g. with `GatehouseHTTP.AddressPolicy.publicOnly`, no redirects, size and time
/// limits; docs/admin-api.md "Request-forgery guard"); a thrown error or a non-200 status counts as a failed fetch.
public protocol DocumentFetcher: Sendable {
    func get(_ url: String) async throws -> FetchedDocument
}
