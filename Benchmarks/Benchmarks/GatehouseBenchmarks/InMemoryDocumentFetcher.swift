import GatehouseIdentity

/// Serves one JWKS for every URL: the key-set cache's network edge without a network.
struct InMemoryDocumentFetcher: DocumentFetcher {
    let jwks: [UInt8]

    func get(_ url: String) async throws -> FetchedDocument {
        FetchedDocument(status: 200, body: jwks, cacheControlMaxAge: 3600)
    }
}
