import Crypto
import GatehouseCore
import GatehouseDemo
import GatehouseHTTP
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
import _CryptoExtras

@Suite("Demo components")
struct DemoComponentsTests {
    let client = PatientHTTPClient(group: MultiThreadedEventLoopGroup.singleton)

    private func withIdP(_ body: (DevIdentityProvider) async throws -> Void) async throws {
        let idp = try await DevIdentityProvider.start(group: MultiThreadedEventLoopGroup.singleton)
        do { try await body(idp) } catch {
            try? await idp.shutdown()
            throw error
        }
        try await idp.shutdown()
    }

    private func withAgent(_ options: EchoAgent.Options, _ body: (EchoAgent) async throws -> Void) async throws {
        let agent = try await EchoAgent.start(group: MultiThreadedEventLoopGroup.singleton, options: options)
        do { try await body(agent) } catch {
            try? await agent.shutdown()
            throw error
        }
        try await agent.shutdown()
    }

    private struct Unverifiable: Error, CustomStringConvertible { let description: String }

    private func decodeObject(_ part: Substring) throws -> [String: JSONValue] {
        guard let bytes = Base64URL.decode(part), let object = try JSONParser.parse(bytes).objectValue else {
            throw Unverifiable(description: "part is not a base64url JSON object")
        }
        return object
    }

    private func bytes(_ value: JSONValue?) throws -> [UInt8] {
        guard let text = value?.stringValue, let bytes = Base64URL.decode(text) else {
            throw Unverifiable(description: "missing or malformed base64url member")
        }
        return bytes
    }

    /// Verifies `token` with the key its `kid` names in `jwks`, independently of Gatehouse.
    private func verify(_ token: String, jwks: JSONValue) throws -> [String: JSONValue] {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw Unverifiable(description: "not three parts") }
        let header = try decodeObject(parts[0])
        let claims = try decodeObject(parts[1])
        guard let signature = Base64URL.decode(parts[2]) else { throw Unverifiable(description: "bad signature part") }
        let kid = header["kid"]?.stringValue
        guard let jwk = jwks["keys"]?.arrayValue?.first(where: { $0["kid"]?.stringValue == kid }) else {
            throw Unverifiable(description: "no key for kid")
        }
        let signingInput = Array(token.utf8[..<parts[1].endIndex])
        switch header["alg"]?.stringValue {
        case "RS256":
            #expect(jwk["kty"] == .string("RSA"))
            let key = try _RSA.Signing.PublicKey(n: try bytes(jwk["n"]), e: try bytes(jwk["e"]))
            #expect(key.keySizeInBits == 2048)
            let valid = key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: signingInput),
                padding: .insecurePKCS1v1_5)
            guard valid else { throw Unverifiable(description: "RS256 signature does not verify") }
        case "ES256":
            let key = try P256.Signing.PublicKey(rawRepresentation: try bytes(jwk["x"]) + bytes(jwk["y"]))
            let valid = key.isValidSignature(try P256.Signing.ECDSASignature(rawRepresentation: signature), for: signingInput)
            guard valid else { throw Unverifiable(description: "ES256 signature does not verify") }
        default:
            throw Unverifiable(description: "unexpected alg")
        }
        return claims
    }

    @Test("the IdP's discovery document points at its own key set and token endpoint")
    func discovery() async throws {
        try await withIdP { idp in
            #expect(idp.issuer == "http://127.0.0.1:\(idp.port)")
            let doc = try await client.get(url: idp.discoveryURL).json()
            #expect(doc["issuer"] == .string(idp.issuer))
            #expect(doc["jwks_uri"] == .string(idp.jwksURL))
            #expect(doc["token_endpoint"] == .string(idp.tokenURL))
            let jwks = try await client.get(url: idp.jwksURL)
            #expect(jwks.cacheControlMaxAge == 300)
            let key = try #require(try jwks.json()["keys"]?.arrayValue?.first)
            #expect(key["kty"] == .string("RSA"))
            #expect(key["use"] == .string("sig"))
            #expect(key["alg"] == .string("RS256"))
            #expect(key["kid"] == .string(idp.defaultKeyID))
            #expect(key["e"] == .string("AQAB"))
            #expect(idp.jwksRequests == 1)
            #expect(idp.discoveryRequests == 1)
        }
    }

    @Test("a token from GET /token verifies against the served key set and carries the asked-for claims")
    func tokenEndpointGET() async throws {
        try await withIdP { idp in
            let response = try await client.get(
                url: idp.tokenURL + "?sub=bob&tenant=globex&client_id=cli-1&scope=read%20write&aud=api&ttl=120&roles=admin,ops")
            #expect(response.statusCode == 200)
            let body = try response.json()
            #expect(body["token_type"] == .string("Bearer"))
            #expect(body["expires_in"] == .number("120"))
            let token = try #require(body["access_token"]?.stringValue)
            let claims = try verify(token, jwks: try await client.get(url: idp.jwksURL).json())
            #expect(claims["iss"] == .string(idp.issuer))
            #expect(claims["sub"] == .string("bob"))
            #expect(claims["client_id"] == .string("cli-1"))
            #expect(claims["scope"] == .string("read write"))
            #expect(claims["aud"] == .string("api"))
            #expect(claims["custom:tenant_id"] == .string("globex"))
            #expect(claims["email"] == .string("bob@globex.example"))
            #expect(claims["roles"] == .array([.string("admin"), .string("ops")]))
            #expect(claims["jti"]?.stringValue?.isEmpty == false)
            let iat = try #require(claims["iat"]?.doubleValue)
            let exp = try #require(claims["exp"]?.doubleValue)
            #expect(exp - iat == 120)
            #expect(abs(iat - SystemWallClock.now()) < 60)
        }
    }

    @Test("POST /token takes form and JSON bodies; bad parameters are a 400")
    func tokenEndpointPOST() async throws {
        try await withIdP { idp in
            let jwks = try await client.get(url: idp.jwksURL).json()
            let form = try await client.send(.postForm(url: idp.tokenURL, [("sub", "carol"), ("tenant", "acme")]))
            let formClaims = try verify(try #require(try form.json()["access_token"]?.stringValue), jwks: jwks)
            #expect(formClaims["sub"] == .string("carol"))

            let json = try await client.send(.postJSON(url: idp.tokenURL, .object(["sub": .string("dave"), "ttl": .number("60")])))
            let jsonClaims = try verify(try #require(try json.json()["access_token"]?.stringValue), jwks: jwks)
            #expect(jsonClaims["sub"] == .string("dave"))
            #expect(jsonClaims["custom:tenant_id"] == .string("acme"))

            for bad in ["?ttl=0", "?ttl=abc", "?ttl=999999", "?sub="] {
                let response = try await client.get(url: idp.tokenURL + bad)
                #expect(response.statusCode == 400, "\(bad)")
                #expect(try response.json()["error"] == .string("invalid_request"))
            }
            #expect(idp.tokensIssued == 2)
        }
    }

    @Test("mintToken signs exactly the given claims, with header overrides and an ES256 key")
    func mintToken() async throws {
        try await withIdP { idp in
            let esKid = idp.addES256Key()
            let jwks = try await client.get(url: idp.jwksURL).json()
            #expect(jwks["keys"]?.arrayValue?.count == 2)

            let expired = idp.mintToken(claims: ["iss": .string("https://elsewhere"), "exp": .number("1")])
            let claims = try verify(expired, jwks: jwks)
            #expect(claims == ["iss": .string("https://elsewhere"), "exp": .number("1")])

            let es = idp.mintToken(claims: idp.standardClaims(subject: "erin"), keyID: esKid)
            #expect(try verify(es, jwks: jwks)["sub"] == .string("erin"))

            let noKid = idp.mintToken(claims: [:], header: ["kid": .null, "x": .string("y")])
            let header = try decodeObject(noKid.split(separator: ".")[0])
            #expect(header == ["alg": .string("RS256"), "typ": .string("JWT"), "x": .string("y")])

            idp.removeKey(kid: esKid)
            #expect(try await client.get(url: idp.jwksURL).json()["keys"]?.arrayValue?.count == 1)
            idp.setJWKSAvailable(false)
            #expect(try await client.get(url: idp.jwksURL).statusCode == 503)
        }
    }

    @Test("the echo agent reports and records what it received, without echoing Authorization")
    func echo() async throws {
        try await withAgent(EchoAgent.Options(name: "agent-a", responseHeaders: ["Mcp-Session-Id": "s-1"])) { agent in
            let response = try await client.send(ClientRequest(
                method: .POST, url: agent.baseURL + "/mcp?x=1",
                headers: [
                    "Authorization": "Bearer secret-token", "X-Tenant-Id": "acme", "X-User-Id": "alice",
                    "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Role": "admin", "X-Other": "o",
                ],
                body: Array("{\"jsonrpc\":\"2.0\"}".utf8)))
            #expect(response.statusCode == 200)
            #expect(response.headers.first(name: "mcp-session-id") == "s-1")
            #expect(!String(decoding: response.body, as: UTF8.self).contains("secret-token"))
            let json = try response.json()
            #expect(json["agent"] == .string("agent-a"))
            #expect(json["method"] == .string("POST"))
            #expect(json["path"] == .string("/mcp?x=1"))
            #expect(json["authorization_present"] == .bool(true))
            #expect(json["headers"]?["authorization"] == nil)
            #expect(json["headers"]?["x-other"] == .string("o"))
            #expect(json["identity"] == .object([
                "x-tenant-id": .string("acme"), "x-user-id": .string("alice"),
                "x-amzn-bedrock-agentcore-runtime-custom-role": .string("admin"),
            ]))
            #expect(json["assertion"] == .object(["present": .bool(false), "verified": .bool(false)]))
            #expect(json["body"] == .string("{\"jsonrpc\":\"2.0\"}"))

            let seen = agent.received()
            #expect(seen.count == 1)
            #expect(seen.first?.uri == "/mcp?x=1")
            #expect(seen.first?.authorizationPresent == true)
            #expect(seen.first?.header("x-user-id") == "alice")

            _ = try await client.get(url: agent.baseURL + "/")
            #expect(agent.received().map(\.uri) == ["/mcp?x=1", "/"])
            #expect(agent.received().last?.authorizationPresent == false)
            agent.reset()
            #expect(agent.received().isEmpty)

            agent.setFixedResponse(.json(status: .notFound, .object(["error": .string("session gone")])))
            let fixed = try await client.get(url: agent.baseURL + "/anything")
            #expect(fixed.statusCode == 404)
            #expect(try fixed.json() == .object(["error": .string("session gone")]))
            #expect(agent.received().count == 1)
        }
    }

    @Test("the echo agent verifies the assertion against the configured key set")
    func assertion() async throws {
        try await withIdP { signer in
            // The dev IdP's ES256 key stands in for Gatehouse's assertion key.
            let kid = signer.addES256Key()
            try await withAgent(EchoAgent.Options(name: "a", assertionJWKSURL: signer.jwksURL)) { agent in
                func check(_ token: String) async throws -> JSONValue? {
                    try await client.get(url: agent.baseURL + "/", headers: ["X-Gatehouse-Assertion": token]).json()["assertion"]
                }
                let now = Int(SystemWallClock.now())
                let good = signer.mintToken(
                    claims: ["iss": .string("gatehouse"), "sub": .string("alice"), "exp": .number(String(now + 60))], keyID: kid)
                let verified = try await check(good)
                #expect(verified?["verified"] == .bool(true))
                #expect(verified?["claims"]?["sub"] == .string("alice"))

                let expired = signer.mintToken(claims: ["iss": .string("gatehouse"), "exp": .number(String(now - 10))], keyID: kid)
                #expect(try await check(expired)?["verified"] == .bool(false))

                let wrongIssuer = signer.mintToken(claims: ["iss": .string("other"), "exp": .number(String(now + 60))], keyID: kid)
                #expect(try await check(wrongIssuer)?["error"] == .string("wrong issuer"))

                let rsa = signer.mintToken(claims: ["iss": .string("gatehouse"), "exp": .number(String(now + 60))])
                #expect(try await check(rsa)?["verified"] == .bool(false))

                var tampered = Array(good.utf8)
                tampered[tampered.count - 5] = tampered[tampered.count - 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
                #expect(try await check(String(decoding: tampered, as: UTF8.self))?["verified"] == .bool(false))
                #expect(try await check("garbage")?["error"] == .string("malformed"))

                #expect(agent.received().first?.assertion.verified == true)
            }
        }
    }

    @Test("GET /sse streams its events spaced out, each arriving before the stream ends")
    func sse() async throws {
        try await withAgent(EchoAgent.Options(name: "streamer")) { agent in
            let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: agent.port) { channel in
                    do {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return channel.eventLoop.makeSucceededFuture(
                            try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel))
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                }
            let arrivals: [(at: ContinuousClock.Instant, text: String)] = try await connection.executeThenClose { inbound, outbound in
                try await outbound.write(contentsOf: [
                    .head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/sse?count=3&interval_ms=300", headers: ["Host": "a"])),
                    .end(nil),
                ])
                var out: [(at: ContinuousClock.Instant, text: String)] = []
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        #expect(head.headers.first(name: "content-type") == "text/event-stream")
                    case .body(let buffer):
                        out.append((ContinuousClock.now, String(buffer: buffer)))
                    case .end:
                        return out
                    }
                }
                return out
            }
            let events = arrivals.map(\.text).joined().split(separator: "\n\n").map(String.init)
            #expect(events.count == 3)
            #expect(events.first?.hasPrefix("data: {") == true)
            #expect(events.first?.contains("\"seq\":0") == true)
            // Three separate arrivals, the last well after the first: nothing was buffered whole.
            // (600 ms apart when the machine is idle; a busy machine may delay the first read.)
            #expect(arrivals.count == 3)
            if let first = arrivals.first, let last = arrivals.last {
                #expect(last.at - first.at >= .milliseconds(100))
            }
            #expect(agent.received().first?.uri == "/sse?count=3&interval_ms=300")
        }
    }
}
