import GatehouseCore
import GatehouseIdentity
import GatehouseSessions
import Logging
import NIOCore

/// One request on its way through the data plane (docs/request-path.md "The request path"): reserved
/// paths, tenant, strip, authenticate, limits, sessions, propagate, forward — and the response
/// back, streamed. All of a request's state lives here, mutated in place, on the client's event
/// loop. The client side (`ExchangeClient`: an HTTP/1.1 connection or an HTTP/2 stream) feeds it
/// the parsed head and the request body and carries out what it writes; async results (token
/// verification, store calls, connects) come back on the same loop and are dropped when the
/// client has moved on (`isServing`).
final class ProxyExchange {
    enum Stage {
        /// Reserved paths, tenant, strip, token: synchronous, right after the head.
        case admitting
        /// Waiting for a token to verify (keys to fetch).
        case authenticating
        /// Waiting for the session store (a binding to persist or look up).
        case waitingForStore
        /// Waiting for an upstream connection.
        case connecting
        /// The head went upstream; request body bytes stream through.
        case forwarding
        /// Reading the body of `POST /.gatehouse/oauth/flows`.
        case collecting
        /// Gatehouse answers itself, asynchronously (OAuth endpoints).
        case answering
        /// Gatehouse answered; the rest of the request body is read and dropped.
        case draining
        /// Over: logged and counted.
        case done
    }

    enum LocalEndpoint {
        case createFlow
        case callback
    }

    weak var client: ExchangeClient?
    let loop: LoopContext
    let runtime: ProxyRuntime
    let config: CompiledConfig
    let configGeneration: Int
    var head: RequestHead
    /// How the request body is framed (an MCP body read whole goes upstream with its length).
    var framing: RequestFraming
    let scheme: String
    let clientIP: String?
    let isHTTP2: Bool
    let startedAt: Double

    var stage = Stage.admitting
    var requestID: RequestIDBytes
    var host: String?
    var path = ""
    var tenant: CompiledTenant?
    var routedTenant: TenantID?
    var strippedPrefix: String?
    var oauthPrefix = ""
    var oauthBasePrefix = ""
    var local: LocalEndpoint?
    var principal: Principal?
    var verified: VerifiedEntry?
    var tokenRange: Range<Int>?
    var requestEnded = false
    var bodyBytes = 0
    var upstream: PooledUpstream?
    var upstreamName: String?
    var attempts: [UpstreamInstance] = []
    var attemptIndex = 0
    var upstreamStartedAt = 0.0
    var responseHeadSent = false
    var responseEnded = false
    var status = 0
    var bytesOut = 0
    var slotHeld = false
    /// The caller whose concurrency slot this request holds (per-subject limits).
    var subjectSlot: SubjectLimiter.Key?
    var closeAfter = false
    var reason: String?
    var sessionKeys: [SessionKey] = []
    var sessionLines: ByteBuffer?
    var sessionsFetched = false
    var rateAdmitted = false
    /// The response waits here while a new server-issued binding is made durable.
    var heldHead: OutgoingHead?
    var held: [HeldPart]?
    var scanner: ElicitationScanner?
    var flowBody: [UInt8] = []
    /// The upstream request's body framing (chunk headers are written around request data).
    var forwardChunked = false
    var clientFraming = ClientFraming.none
    /// A WebSocket handshake (HTTP/1.1 only): relayed with `Upgrade`, and a tunnel after `101`.
    var upgrade = Admission.Upgrade.none
    /// The upstream switched protocols: bytes are relayed both ways until either side closes.
    var tunnel = false

    // MCP (docs/mcp.md): the body read whole, what it says, and how the policy answered.
    var collectingMCP = false
    var mcpChecked = false
    var mcpBody: ByteBuffer?
    var mcpRequest: MCPRequest?
    var mcpAudit: MCPAudit?
    var filtersToolsList = false
    var toolsFilter: MCPToolsListFilter?
    /// A filtered JSON `tools/list` answer's head, sent once the body is rewritten.
    var toolsFilterHead: OutgoingHead?
    var mcpToolsRemoved = 0
    /// The request's spans, when tracing is on.
    var trace: ExchangeTrace?
    /// Which of Gatehouse's own endpoints answered, as a template (`/.gatehouse/oauth/flows`):
    /// the server span's route. Never the path as sent, so span names stay a bounded set.
    var localRoute: String?

    enum HeldPart {
        case body(ByteBuffer)
        case end
    }

    /// Bytes of a body Gatehouse refused that it still reads and drops before closing.
    static let maxDrainBytes = 1 << 20

    init(
        client: ExchangeClient, loop: LoopContext, head: RequestHead, framing: RequestFraming, scheme: String, clientIP: String?,
        isHTTP2: Bool
    ) {
        self.client = client
        self.loop = loop
        self.runtime = loop.runtime
        self.config = loop.currentConfig()
        self.configGeneration = loop.configGeneration
        self.head = head
        self.framing = framing
        self.scheme = scheme
        self.clientIP = clientIP
        self.isHTTP2 = isHTTP2
        self.startedAt = monotonicSeconds()
        self.requestID = loop.ids.generate()
        if case .none = framing { requestEnded = true }
        runtime.active.wrappingAdd(1, ordering: .relaxed)
    }

    var settings: GatehouseSettings { config.snapshot.settings }

    /// Whether request body bytes are taken now (else they wait in the client's buffer, and the
    /// client stops reading once that holds enough).
    var wantsBody: Bool {
        switch stage {
        case .forwarding, .collecting, .draining: return !requestEnded
        default: return false
        }
    }

    // MARK: - Admission

    /// Everything that can be decided from the head alone, then authentication.
    func start() {
        if let active = runtime.tracing.active {
            trace = ExchangeTrace(active, incoming: ExchangeTrace.incoming(head), method: head.methodName)
        }
        for f in head.fields where f.kind == .xRequestID {
            let sane = head.withBytes { p in
                RequestIDBytes.isSane(UnsafeRawBufferPointer(rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)]))
            }
            if sane { requestID = .client(head.withBytes { Array($0[Int(f.valueStart)..<Int(f.valueEnd)]) }) }
            break
        }
        if let refusal = Admission.target(head) {
            refuse(refusal, close: true)
            return
        }
        switch Admission.host(head) {
        case .failure(let refusal):
            refuse(refusal, close: true)
            return
        case .success(let h):
            host = h
        }
        if !isHTTP2 {
            switch Admission.upgrade(head, framing: framing) {
            case .failure(let refusal):
                refuse(refusal, close: true)
                return
            case .success(let kind):
                upgrade = kind
            }
        }
        path = Admission.path(head)
        let route = Admission.tenant(host: host, path: path, config: config)
        tenant = route.tenant
        routedTenant = route.tenant?.tenant.id
        if let prefix = route.prefix, route.tenant?.tenant.match.stripPrefix == true { strippedPrefix = prefix }

        // Strip before anything can read a spoofed identity header, for every request.
        Admission.markStripped(&head, config: config, tenant: tenant)

        // Gatehouse's OAuth endpoints answer under a tenant's path prefix as well as at the root.
        var localPath = Substring(path)
        if let prefix = tenant?.tenant.match.pathPrefix, path.utf8.starts(with: prefix.utf8),
            path.utf8.dropFirst(prefix.utf8.count).starts(with: OAuthFlows.cookiePath.utf8)
        {
            localPath = localPath.dropFirst(prefix.count)
            oauthPrefix = prefix
        }
        oauthBasePrefix = route.routedByPrefix ? (tenant?.tenant.match.pathPrefix ?? "") : ""
        switch OAuthEndpoint.match(method: head.method, path: localPath) {
        case .none:
            break
        case .some(.refuse(let response)):
            localRoute = oauthPrefix + OAuthFlows.cookiePath + "*"
            respondLocally(response, close: false)
            return
        case .some(.start(let handle)):
            localRoute = oauthPrefix + OAuthFlows.cookiePath + "start/{handle}"
            startFlow(handle: handle)
            return
        case .some(.createFlow):
            localRoute = oauthPrefix + OAuthFlows.cookiePath + "flows"
            local = .createFlow
        case .some(.callback):
            localRoute = oauthPrefix + OAuthFlows.cookiePath + "callback"
            local = .callback
            if case .absent = Admission.bearer(head) {
                completeFlow(principal: nil)
                return
            }
        }

        if local == nil, let reserved = ReservedEndpoints.handle(
            method: head.method, path: Substring(path), host: host, scheme: scheme, config: config, signer: runtime.signer)
        {
            if trace != nil { localRoute = ReservedEndpoints.route(Substring(path)) }
            respondLocally(reserved, close: false)
            return
        }

        switch Admission.bearer(head) {
        case .absent:
            authenticationFailed(AuthError(.missingToken, reason: "missing_token"))
        case .malformed:
            authenticationFailed(.invalid("malformed", "unusable Authorization header"))
        case .token(let range):
            tokenRange = range
            if range.count > config.hot.maxTokenBytes {
                authenticationFailed(.invalid("too_large", "token of \(range.count) bytes"))
                return
            }
            authenticate()
        }
    }

    /// The caller's bearer token as a string (OAuth flows need it; never logged).
    var token: String? {
        guard let tokenRange else { return nil }
        return head.string(tokenRange)
    }

    // MARK: - Request body (from the client)

    func requestBody(_ data: ByteBuffer) {
        bodyBytes += data.readableBytes
        if stage != .draining, !tunnel, bodyBytes > config.hot.maxRequestBodyBytes {
            requestBodyTooLarge()
            return
        }
        switch stage {
        case .forwarding:
            guard let upstream else { return }
            if forwardChunked {
                var line = upstream.channel.allocator.buffer(capacity: 18)
                line.writeHex(data.readableBytes)
                line.writeCRLF()
                upstream.link.write(line)
                upstream.link.write(data)
                upstream.link.write(Self.crlf)
            } else {
                upstream.link.write(data)
            }
        case .collecting:
            if collectingMCP {
                collectMCP(data)
                return
            }
            flowBody.append(contentsOf: data.readableBytesView)
            if bodyBytes > OAuthEndpoint.maxBodyBytes { bodyCollected() }
        case .draining:
            if bodyBytes > Self.maxDrainBytes {
                closeAfter = true
                requestEnded = true
                maybeFinish()
            }
        default:
            break
        }
    }

    static let crlf = ByteBuffer(string: "\r\n")
    static let lastChunk = ByteBuffer(string: "0\r\n\r\n")

    func requestEnd() {
        guard !requestEnded else { return }
        requestEnded = true
        switch stage {
        case .forwarding:
            if forwardChunked, let upstream { upstream.link.write(Self.lastChunk) }
            upstream?.link.flush()
            if responseEnded { responseFinishedWithUpstream() }
        case .collecting:
            if collectingMCP { mcpBodyCollected() } else { bodyCollected() }
        case .draining:
            maybeFinish()
        default:
            break
        }
    }

    /// End of one read of request bytes: what was forwarded goes out.
    func requestReadComplete() {
        if stage == .forwarding { upstream?.link.flush() }
    }

    private func requestBodyTooLarge() {
        if responseHeadSent {
            // Already streaming a response: the only honest move is to cut the connection.
            upstream?.channel.close(promise: nil)
            abortClient(reason: "body_too_large")
            return
        }
        respondLocally(.error(.payloadTooLarge, "body_too_large", "the request body is too large"), close: true)
    }

    /// The client went away (connection closed, stream reset).
    func clientGone() {
        guard stage != .done else { return }
        if let upstream {
            if requestEnded, stage == .forwarding {
                // The whole request went upstream: its response is read and dropped, and the
                // connection goes back to the pool (a reset HTTP/2 stream costs no connection).
                loop.pool.discardResponseThenCheckin(upstream)
            } else {
                upstream.link.delegate = nil
                upstream.channel.close(promise: nil)
            }
            self.upstream = nil
        }
        if status == 0 { status = 499 }
        responseEnded = true
        requestEnded = true
        closeAfter = true
        complete()
    }

    // MARK: - Finishing

    /// The exchange is over when the response has ended and the request has been read (or the
    /// connection is closing anyway).
    func maybeFinish() {
        guard stage != .done, responseEnded, requestEnded || closeAfter else { return }
        complete()
        client?.exchangeFinished(close: closeAfter)
    }

    /// Records the finished request (access log, metrics, limits).
    func complete() {
        guard stage != .done else { return }
        stage = .done
        runtime.active.wrappingSubtract(1, ordering: .relaxed)
        if slotHeld {
            slotHeld = false
            tenant?.limiter.releaseSlot()
        }
        releaseSubjectSlot()
        loop.stats.request(tenant: tenant, status: status)
        if runtime.accessLog.enabled { writeAccessLine() }
        if trace != nil { endTrace() }
        loop.countersChanged()
    }

    func releaseSubjectSlot() {
        guard let key = subjectSlot else { return }
        subjectSlot = nil
        tenant?.limiter.subjects?.release(key)
    }

    func abortClient(reason: String) {
        self.reason = reason
        closeAfter = true
        responseEnded = true
        requestEnded = true
        complete()
        client?.abort()
    }
}
