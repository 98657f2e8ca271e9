/// An upstream instance of a tenant (its own gateway / agent runtime).
public struct Upstream: Sendable, Hashable, CustomStringConvertible {
    public var scheme: String  // "http" or "https"
    public var host: String
    public var port: Int
    /// Prepended to the forwarded path ("" when the URL has no path).
    public var basePath: String
    /// `https` only: a PEM file of the CA certificates the upstream's certificate must chain to
    /// (instead of the system's trust store). Absolute.
    public var caFile: String?
    /// `https` only: the name sent as SNI and checked against the upstream's certificate
    /// (default: the URL's host).
    public var serverName: String?

    public init(scheme: String, host: String, port: Int, basePath: String, caFile: String? = nil, serverName: String? = nil) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.basePath = basePath
        self.caFile = caFile
        self.serverName = serverName
    }

    /// `host:port`, as used in logs and metrics.
    public var description: String { "\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    /// The Host header value for this upstream (port omitted when it is the scheme's default).
    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        if (scheme == "http" && port == 80) || (scheme == "https" && port == 443) { return h }
        return "\(h):\(port)"
    }

    /// Parses `http(s)://host[:port][/path]`. Nil for anything else (userinfo, query, fragment…).
    public init?(url: String) {
        guard let parsed = ParsedURL(url), parsed.scheme == "http" || parsed.scheme == "https",
            parsed.query == nil, parsed.fragment == nil, !parsed.hasUserInfo
        else { return nil }
        self.scheme = parsed.scheme
        self.host = parsed.host
        self.port = parsed.port ?? (parsed.scheme == "https" ? 443 : 80)
        var path = parsed.path
        while path.hasSuffix("/") { path.removeLast() }
        self.basePath = path
    }
}

/// Which value a propagated header carries.
public enum PropagationSource: Sendable, Hashable {
    /// `$tenant`: the resolved tenant id.
    case tenant
    case claim(ClaimPath)
}

public struct PropagationRule: Sendable, Hashable {
    /// The header name as configured (sent in this spelling).
    public var header: String
    public var source: PropagationSource

    public init(header: String, source: PropagationSource) {
        self.header = header
        self.source = source
    }
}

public enum AuthorizationMode: String, Sendable, Hashable {
    /// The inbound `Authorization` header reaches the upstream unchanged.
    case passthrough
    /// The inbound `Authorization` header is removed before forwarding.
    case drop
}

public struct SessionRule: Sendable, Hashable {
    public enum IssuedBy: String, Sendable, Hashable {
        case server
        case client
    }

    public var header: String
    public var issuedBy: IssuedBy
    /// MCP-aware tenants: the `tools/call` argument the header mirrors (`Mcp-Param-<Name>` of
    /// 2026-07-28 for an argument annotated `x-mcp-header`). The session id is read from the
    /// argument when the header is absent (a 2025-11-25 client sends no such header), and the
    /// two must agree when both are sent (docs/mcp.md "Handles bound to their user").
    public var argument: String?

    public init(header: String, issuedBy: IssuedBy, argument: String? = nil) {
        self.header = header
        self.issuedBy = issuedBy
        self.argument = argument
    }
}

public struct OAuthSettings: Sendable, Hashable {
    public var completionURL: String
    public var flowTTLSeconds: Int

    public init(completionURL: String, flowTTLSeconds: Int = 600) {
        self.completionURL = completionURL
        self.flowTTLSeconds = flowTTLSeconds
    }
}

public struct TenantLimits: Sendable, Hashable {
    /// 0 = unlimited. Token bucket per tenant (burst = one second's worth, at least 1).
    public var requestsPerSecond: Double
    /// 0 = unlimited.
    public var maxConcurrentRequests: Int
    /// 0 = unlimited. Token bucket per caller (`iss` + `sub`) of the tenant, so that one user
    /// cannot use up the tenant's share.
    public var perSubjectRequestsPerSecond: Double
    /// 0 = unlimited. Requests in progress per caller (`iss` + `sub`).
    public var perSubjectMaxConcurrentRequests: Int

    public init(
        requestsPerSecond: Double = 0, maxConcurrentRequests: Int = 0, perSubjectRequestsPerSecond: Double = 0,
        perSubjectMaxConcurrentRequests: Int = 0
    ) {
        self.requestsPerSecond = requestsPerSecond
        self.maxConcurrentRequests = maxConcurrentRequests
        self.perSubjectRequestsPerSecond = perSubjectRequestsPerSecond
        self.perSubjectMaxConcurrentRequests = perSubjectMaxConcurrentRequests
    }

    public var limitsSubjects: Bool { perSubjectRequestsPerSecond > 0 || perSubjectMaxConcurrentRequests > 0 }
}

public struct TenantMatch: Sendable, Hashable {
    /// Lower-cased host names (no port).
    public var hosts: [String]
    /// Starts with "/", no trailing "/".
    public var pathPrefix: String?
    public var stripPrefix: Bool

    public init(hosts: [String] = [], pathPrefix: String? = nil, stripPrefix: Bool = true) {
        self.hosts = hosts
        self.pathPrefix = pathPrefix
        self.stripPrefix = stripPrefix
    }
}

/// One tenant, validated. Immutable once built.
public struct Tenant: Sendable, Hashable {
    public var id: TenantID
    public var displayName: String
    public var match: TenantMatch
    /// IdPs from the tenant file (admin-registered ones are merged into the snapshot later).
    public var idps: [IdentityProvider]
    public var upstreams: [Upstream]
    public var preserveHost: Bool
    public var propagate: [PropagationRule]
    public var authorization: AuthorizationMode
    public var sessions: [SessionRule]
    public var sessionIdleTTLSeconds: Int
    public var oauth: OAuthSettings?
    public var limits: TenantLimits
    /// MCP-aware handling (`mcp:`): nil for a tenant that does not declare it.
    public var mcp: MCPPolicy?
    /// The file this tenant came from (for messages).
    public var sourceFile: String

    public static let defaultPropagation: [PropagationRule] = [
        PropagationRule(header: "X-Tenant-Id", source: .tenant),
        PropagationRule(header: "X-User-Id", source: .claim(try! ClaimPath("sub"))),
    ]

    public static let defaultSessions: [SessionRule] = [
        SessionRule(header: "Mcp-Session-Id", issuedBy: .server),
        SessionRule(header: "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", issuedBy: .client),
    ]

    public init(
        id: TenantID, displayName: String, match: TenantMatch = TenantMatch(), idps: [IdentityProvider],
        upstreams: [Upstream], preserveHost: Bool = false, propagate: [PropagationRule] = Tenant.defaultPropagation,
        authorization: AuthorizationMode = .passthrough, sessions: [SessionRule] = Tenant.defaultSessions,
        sessionIdleTTLSeconds: Int = 3600, oauth: OAuthSettings? = nil, limits: TenantLimits = TenantLimits(),
        mcp: MCPPolicy? = nil, sourceFile: String = ""
    ) {
        self.id = id
        self.displayName = displayName
        self.match = match
        self.idps = idps
        self.upstreams = upstreams
        self.preserveHost = preserveHost
        self.propagate = propagate
        self.authorization = authorization
        self.sessions = sessions
        self.sessionIdleTTLSeconds = sessionIdleTTLSeconds
        self.oauth = oauth
        self.limits = limits
        self.mcp = mcp
        self.sourceFile = sourceFile
    }
}
