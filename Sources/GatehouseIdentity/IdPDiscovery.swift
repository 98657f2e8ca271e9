import GatehouseCore

/// Reading an IdP's OpenID discovery document for its `jwks_uri` (OpenID Connect Discovery 1.0, 4.3).
enum IdPDiscovery {
    /// The discovered `jwks_uri`. The document must name exactly the configured issuer (a
    /// document for another issuer must not choose this IdP's keys) and a key-set URL that is
    /// https, unless its host is listed in `insecure_idp_hosts`.
    static func jwksURI(for idp: IdentityProvider, fetcher: any DocumentFetcher, settings: IdentitySettings) async throws(KeySetCache.FetchFailure) -> String {
        guard let discoveryURL = idp.discoveryURL else {
            throw KeySetCache.FetchFailure(result: "refused", detail: "IdP has neither jwks_uri nor discovery_url")
        }
        let document = try await get(discoveryURL, fetcher: fetcher, what: "discovery document")
        let root: JSONValue
        do {
            root = try JSONParser.parse(document.body, limits: .init(maxDepth: 16, maxBytes: KeySet.maxDocumentBytes))
        } catch {
            throw KeySetCache.FetchFailure(result: "refused", detail: "discovery document: \(error)")
        }
        guard root["issuer"]?.stringValue == idp.issuer else {
            throw KeySetCache.FetchFailure(result: "refused", detail: "discovery document names another issuer")
        }
        guard let uri = root["jwks_uri"]?.stringValue else {
            throw KeySetCache.FetchFailure(result: "refused", detail: "discovery document has no jwks_uri")
        }
        guard let url = ParsedURL(uri), !url.hasUserInfo, url.fragment == nil,
            url.scheme == "https" || (url.scheme == "http" && settings.insecureIdPHosts.contains(url.host))
        else {
            throw KeySetCache.FetchFailure(result: "refused", detail: "discovered jwks_uri is not an allowed https URL")
        }
        return uri
    }

    /// One GET that must answer 200 with a body no larger than a key set may be.
    static func get(_ url: String, fetcher: any DocumentFetcher, what: String) async throws(KeySetCache.FetchFailure) -> FetchedDocument {
        let document: FetchedDocument
        do {
            document = try await fetcher.get(url)
        } catch {
            throw KeySetCache.FetchFailure(result: "error", detail: "\(what): \(error)")
        }
        guard document.status == 200 else {
            throw KeySetCache.FetchFailure(result: "error", detail: "\(what): HTTP status \(document.status)")
        }
        guard document.body.count <= KeySet.maxDocumentBytes else {
            throw KeySetCache.FetchFailure(result: "refused", detail: "\(what) larger than \(KeySet.maxDocumentBytes) bytes")
        }
        return document
    }
}
