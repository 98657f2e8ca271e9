import GatehouseDemo
import GatehouseHTTP
import NIOPosix
import Testing

@testable import GatehouseApp

/// IdP documents are fetched only from public addresses over https, unless the host is listed
/// in `identity.insecure_idp_hosts` (docs/admin-api.md "Request-forgery guard").
@Suite(.serialized) struct DocumentFetcherTests {
    @Test func aLoopbackIdPIsFetchedOnlyWhenItsHostIsExempt() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let idp = try await DevIdentityProvider.start(group: group)
        let client = HTTPClient(group: group)

        let exempt = HTTPDocumentFetcher(client: client, insecureHosts: ["127.0.0.1"], baseOptions: PatientHTTPClient.options)
        let ok = try await exempt.get(idp.jwksURL)
        #expect(ok.status == 200)

        let guarded = HTTPDocumentFetcher(client: client, insecureHosts: [], baseOptions: PatientHTTPClient.options)
        await #expect(throws: (any Error).self) { _ = try await guarded.get(idp.jwksURL) }  // http
        let before = idp.jwksRequests
        await #expect(throws: HTTPClientError.self) {
            _ = try await guarded.get("https://127.0.0.1:\(idp.port)/jwks.json")  // loopback over https
        }
        #expect(idp.jwksRequests == before, "the refused address was never asked")

        try await idp.shutdown()
        try await group.shutdownGracefully()
    }
}
