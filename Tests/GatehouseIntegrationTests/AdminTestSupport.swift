import GatehouseCore
import GatehouseDemo
import GatehouseHTTP
import NIOCore
import NIOPosix

/// The operator token the admin tests configure.
let testOperatorToken = "op-test-" + String(repeating: "k", count: 32)

/// A harness whose admin API has `testOperatorToken`.
func withAdminHarness(
    _ customize: (inout Harness.Setup, DevIdentityProvider, [EchoAgent]) throws -> Void = { _, _, _ in },
    _ body: (Harness) async throws -> Void
) async throws {
    try await withHarness({ setup, idp, agents in
        setup.settings.operatorToken = testOperatorToken
        try customize(&setup, idp, agents)
    }, body)
}

extension Harness {
    /// One admin request; `token` nil sends no Authorization header.
    func adminCall(_ method: String, _ path: String, token: String? = testOperatorToken, body: String? = nil) async throws -> RawClient.Response {
        var headers: [(String, String)] = []
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        if body != nil { headers.append(("Content-Type", "application/json")) }
        return try await admin.request(method, path, headers: headers, body: body)
    }

    /// A new tenant admin key (operator): (id, key).
    func createKey(_ tenant: String, name: String = "test") async throws -> (id: String, key: String) {
        let r = try await adminCall("POST", "/admin/v1/tenants/\(tenant)/keys", body: #"{"name": "\#(name)"}"#)
        guard r.status == 201, let id = r.json?["id"]?.stringValue, let key = r.json?["key"]?.stringValue else {
            throw RawClient.Failure(description: "key not created: \(r.status) \(r.text)")
        }
        return (id, key)
    }

    /// The body of `PUT …/idps/{name}` for an IdP whose keys `jwks` serves.
    static func idpBody(issuer: String, jwksURI: String, clients: [String] = ["gatehouse-demo"]) -> String {
        JSONValue.object([
            "issuer": .string(issuer), "jwks_uri": .string(jwksURI), "allowed_clients": .array(clients.map(JSONValue.string)),
        ]).compactText
    }

    /// A request on the data plane to acme with `token`.
    func acmeStatus(_ token: String, port: Int? = nil) async throws -> Int {
        try await RawClient(port: port ?? gatehouse.dataPort).request("GET", "/t/acme/x", headers: [bearer(token)]).status
    }
}

/// Resolves the names it knows to fixed addresses, everything else through the system: points a
/// public-looking IdP name at loopback.
struct FixedResolver: HostResolver {
    let table: [String: String]

    func resolve(host: String, port: Int) async throws -> [SocketAddress] {
        if let address = table[host] { return [try SocketAddress(ipAddress: address, port: port)] }
        return try await SystemHostResolver().resolve(host: host, port: port)
    }
}
