import GatehouseCore
import GatehouseHTTP
import Logging
import NIOCore
import Synchronization

/// A development OpenID provider: discovery document, key set and a token endpoint that mints
/// whatever token it is asked for. For `gatehouse demo` and tests only; it authenticates nobody.
///
/// Routes: `GET /.well-known/openid-configuration`, `GET /jwks.json`, `GET|POST /token`
/// (parameters `sub`, `tenant`, `client_id`, `scope`, `aud`, `ttl`, `roles`, as query, form or JSON).
public final class DevIdentityProvider: Sendable {
    public let port: Int
    /// `http://HOST:PORT`, also the `iss` of every token.
    public let issuer: String
    let state: State
    private let server: SimpleHTTPServer

    public var discoveryURL: String { issuer + "/.well-known/openid-configuration" }
    public var jwksURL: String { issuer + "/jwks.json" }
    public var tokenURL: String { issuer + "/token" }

    /// Mutable parts, shared with the request handler.
    final class State: Sendable {
        struct Values {
            /// Published in this order; the first RSA key signs by default.
            var keys: [DevSigningKey]
            var issuer = ""
            var jwksAvailable = true
            var jwksRequests = 0
            var discoveryRequests = 0
            var tokensIssued = 0
        }

        let values: Mutex<Values>
        let clock: WallClock
        let defaultTTL: Int

        init(keys: [DevSigningKey], clock: @escaping WallClock, defaultTTL: Int) {
            values = Mutex(Values(keys: keys))
            self.clock = clock
            self.defaultTTL = defaultTTL
        }
    }

    private init(port: Int, issuer: String, state: State, server: SimpleHTTPServer) {
        self.port = port
        self.issuer = issuer
        self.state = state
        self.server = server
    }

    /// Generates an RSA-2048 key and starts serving on `host:port` (0 = a free port).
    public static func start(
        host: String = "127.0.0.1", port: Int = 0, group: any EventLoopGroup, defaultTTL: Int = 3600,
        clock: @escaping WallClock = SystemWallClock.now, logger: Logger = Logger(label: "gatehouse.demo.idp")
    ) async throws -> DevIdentityProvider {
        let state = State(keys: [try DevSigningKey.rsa()], clock: clock, defaultTTL: defaultTTL)
        let server = try await SimpleHTTPServer.start(host: host, port: port, group: group, logger: logger) { request in
            await DevIdentityProvider.handle(request, state: state)
        }
        let publicHost = (host == "0.0.0.0" || host == "::" || host.isEmpty) ? "127.0.0.1" : host
        let authority = publicHost.contains(":") ? "[\(publicHost)]" : publicHost
        let issuer = "http://\(authority):\(server.port)"
        state.values.withLock { $0.issuer = issuer }
        return DevIdentityProvider(port: server.port, issuer: issuer, state: state, server: server)
    }

    public func shutdown() async throws {
        try await server.shutdown()
    }

    /// The key id that signs tokens by default (the RSA key made at start).
    public var defaultKeyID: String { state.values.withLock { $0.keys.first { $0.algorithm == "RS256" }?.kid ?? "" } }

    /// Adds an ES256 key to the published set; returns its `kid`.
    @discardableResult
    public func addES256Key() -> String {
        let key = DevSigningKey.p256()
        state.values.withLock { $0.keys.append(key) }
        return key.kid
    }

    /// Adds another RSA key (key rotation); returns its `kid`. Tokens keep being signed with the
    /// default key unless `mintToken(…, keyID:)` names this one.
    @discardableResult
    public func addRSAKey() throws -> String {
        let key = try DevSigningKey.rsa()
        state.values.withLock { $0.keys.append(key) }
        return key.kid
    }

    /// Stops publishing (and signing with) a key.
    public func removeKey(kid: String) {
        state.values.withLock { $0.keys.removeAll { $0.kid == kid } }
    }

    /// false: `/jwks.json` answers 503, as an IdP outage would.
    public func setJWKSAvailable(_ available: Bool) {
        state.values.withLock { $0.jwksAvailable = available }
    }

    /// How often `/jwks.json` was requested: lets tests check refresh and single-flight rules.
    public var jwksRequests: Int { state.values.withLock { $0.jwksRequests } }
    public var discoveryRequests: Int { state.values.withLock { $0.discoveryRequests } }
    public var tokensIssued: Int { state.values.withLock { $0.tokensIssued } }
}
