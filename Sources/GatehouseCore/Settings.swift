/// A `host:port` to listen on or connect to.
public struct SocketAddressSpec: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port` or `:port` (all interfaces). Port 0 picks a free port.
    public init?(_ text: String) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            guard let p = Int(text[text.index(close, offsetBy: 2)...]), (0...65535).contains(p) else { return nil }
            port = p
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            let h = String(text[..<colon])
            guard !h.contains(":") else { return nil }
            host = h.isEmpty ? "0.0.0.0" : h
            guard let p = Int(text[text.index(after: colon)...]), (0...65535).contains(p) else { return nil }
            port = p
        }
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

public enum StoreLocation: Sendable, Hashable {
    /// Absolute path of the SQLite database file.
    case sqlite(path: String)
    case postgres(url: String)
}

public struct IdentitySettings: Sendable, Hashable {
    public var clockSkewSeconds: Int = 60
    public var jwksCacheSeconds: Int = 600
    public var jwksMinRefreshSeconds: Int = 30
    public var jwksMaxStaleSeconds: Int = 86400
    public var maxTokenBytes: Int = 8192
    public var tokenCacheEntries: Int = 100_000
    /// Lower-cased host names allowed over http and on private/loopback addresses.
    public var insecureIdPHosts: [String] = []

    public init() {}
}

public struct AssertionSettings: Sendable, Hashable {
    public var enabled: Bool = true
    public var header: String = "X-Gatehouse-Assertion"
    public var issuer: String = "gatehouse"
    /// Absolute path.
    public var keyDir: String = ".gatehouse/keys"
    public var ttlSeconds: Int = 60

    public init() {}
}

public struct GlobalLimits: Sendable, Hashable {
    public var maxRequestBodyBytes: Int = 10_485_760
    public var maxHeaderBytes: Int = 32768
    public var upstreamConnectTimeoutSeconds: Double = 5
    public var upstreamIdleTimeoutSeconds: Double = 300
    /// At shutdown (SIGTERM), how long requests in progress may take to finish (docs/configuration.md `limits.shutdown_grace_seconds`).
    public var shutdownGraceSeconds: Double = 15

    public init() {}
}

public enum LogLevel: String, Sendable, Hashable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// `gatehouse.yaml`, validated, with environment overrides applied and paths made absolute.
public struct GatehouseSettings: Sendable, Hashable {
    public var listen = SocketAddressSpec(host: "127.0.0.1", port: 8080)
    public var adminListen = SocketAddressSpec(host: "127.0.0.1", port: 9090)
    /// Absolute path of the operator token file (nil when the token comes from the environment).
    public var operatorTokenFile: String?
    /// The operator token, when known (from `GATEHOUSE_OPERATOR_TOKEN` or the file).
    public var operatorToken: String?
    /// Absolute path.
    public var tenantsDir: String = "tenants"
    public var store: StoreLocation = .sqlite(path: ".gatehouse/state.sqlite")
    public var identity = IdentitySettings()
    /// Lower-cased, `_` folded to `-` (see `HeaderName.canonical`).
    public var protectedPrefixes: [String] = ["x-gatehouse-"]
    public var assertion = AssertionSettings()
    /// `sealing_key_file`: the AES-256 key (32 raw bytes) sealing OAuth user tokens at rest, the
    /// one secret replicas sharing a store must share. Absolute path; nil: the default,
    /// `<assertion.key_dir>/flow-token.key`, created on first start. A configured file must exist.
    public var sealingKeyFile: String?
    public var limits = GlobalLimits()
    /// TLS on the data-plane listener (ALPN `h2`, `http/1.1`); nil: cleartext (HTTP/1.1, and
    /// HTTP/2 with prior knowledge).
    public var tls: ListenerTLS?
    /// The scheme clients use to reach the data plane, when it is not the listener's own: `https`
    /// behind a load balancer that terminates TLS. Used in metadata URLs, `X-Forwarded-Proto`
    /// and the OAuth cookie's `Secure` flag. Never taken from request headers.
    public var publicScheme: String?
    public var logLevel: LogLevel = .info
    /// OpenTelemetry traces (docs/observability.md "Traces"); off unless `tracing.enabled`.
    public var tracing = TracingSettings()
    /// The config file these settings came from (absolute), if any.
    public var configFile: String?

    public init() {}
}

/// `tracing:` of `gatehouse.yaml`: spans exported over OTLP/HTTP (protobuf). Every field can
/// change while Gatehouse runs.
public struct TracingSettings: Sendable, Hashable {
    public var enabled = false
    /// The OTLP/HTTP base URL; `/v1/traces` is appended.
    public var endpoint = "http://127.0.0.1:4318"
    /// The share of new traces recorded (0–1). A caller's sampled `traceparent` is honoured
    /// whatever the ratio, and an unsampled one is not recorded.
    public var sampleRatio = 1.0
    public var serviceName = "gatehouse"
    /// Whether the server span carries the caller's `sub` (`enduser.id`); off by default.
    public var recordSubject = false

    public init() {}

    /// The URL spans are posted to.
    public var tracesURL: String { endpoint.hasSuffix("/") ? endpoint + "v1/traces" : endpoint + "/v1/traces" }
}

/// `tls:` of `gatehouse.yaml`: PEM files for the data-plane listener. Absolute paths once loaded.
public struct ListenerTLS: Sendable, Hashable {
    /// The certificate chain, leaf first.
    public var certificateFile: String
    public var keyFile: String

    public init(certificateFile: String, keyFile: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}
