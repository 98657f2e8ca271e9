import GatehouseCore
import GatehouseIdentity
import GatehouseSessions
import Logging
import NIOCore
import NIOHTTP1

/// The data plane for one client connection (DESIGN 3): reserved paths, tenant resolution,
/// strip, authenticate, limits, propagate, forward — streaming both ways with backpressure.
///
/// One request is in flight per connection at a time (`HTTPServerPipelineHandler` holds
/// pipelined requests back until the previous response has ended).
final class ProxyHandler: ChannelDuplexHandler, UpstreamDelegate {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum Phase {
        case idle
        /// Waiting for the token to verify (reads paused, body parts buffered).
        case authenticating
        /// Waiting for an upstream connection (reads paused, body parts buffered).
        case connecting
        /// The request head went upstream; body parts stream through.
        case forwarding
        /// Gatehouse answered itself; the rest of the request body is read and dropped.
        case draining
        /// Reading a request body Gatehouse itself consumes (`POST /.gatehouse/oauth/flows`).
        case collecting
        /// Gatehouse is preparing its own answer asynchronously (OAuth endpoints).
        case answering
    }

    /// State of the request currently on this connection.
    struct Exchange {
        var head: HTTPRequestHead
        var requestID: String
        var host: String?
        var startedAt: Double
        /// The body's framing as the client sent it; the upstream request is framed from this alone.
        var framing = RequestFraming.none
        var tenant: CompiledTenant?
        /// The tenant path prefix to remove before forwarding: set only when that prefix is what
        /// matched the request (never for Host- or issuer-routed requests).
        var strippedPrefix: String?
        var principal: Principal?
        var buffered: [HTTPServerRequestPart] = []
        var requestEnded = false
        var bodyBytes = 0
        var upstream: UpstreamConnection?
        /// `host:port` of the instance the request went to, for the access log.
        var upstreamName: String?
        var attempts: [UpstreamInstance] = []
        var upstreamHead: HTTPRequestHead?
        var upstreamStartedAt = 0.0
        var responseHeadSent = false
        var status = 0
        var bytesOut = 0
        var slotHeld = false
        var closeAfterResponse = false
        var reason: String?
        /// The caller's bearer token (for OAuth flow bindings; never logged).
        var token: String?
        /// Session-table keys this request carried (DESIGN 5).
        var sessionKeys: [SessionKey] = []
        /// Unseen server-issued ids were looked up in the shared store already.
        var sessionsFetched = false
        /// The tenant's rate limit counted this request already (it may pass `authenticated` twice).
        var rateAdmitted = false
        /// While a new server-issued binding is being made durable, the response waits here:
        /// the rewritten head and every part that arrived meanwhile.
        var heldHead: HTTPResponseHead?
        var held: [HTTPClientResponsePart]?
        /// What Gatehouse itself does with this request instead of forwarding it.
        var local: LocalEndpoint?
        /// The tenant named by the request itself (Host, then path prefix), before any token:
        /// OAuth callbacks and start URLs act only on that tenant's flows.
        var routedTenant: TenantID?
        /// The tenant path prefix an OAuth endpoint was reached under (`<prefix>/.gatehouse/oauth/…`).
        var oauthPrefix = ""
        /// The path prefix of URLs Gatehouse hands out for a flow created by this request: the
        /// tenant's prefix when the prefix is what routed the request, else none (its Host did).
        var oauthBasePrefix = ""
        /// Watches the response for MCP URL-mode elicitations (DESIGN 6).
        var scanner: ElicitationScanner?
    }

    enum LocalEndpoint {
        case createFlow
        case callback
    }

    let runtime: ProxyRuntime
    private let pools: UpstreamPools
    let scheme: String
    var context: ChannelHandlerContext?
    private var pool: UpstreamPool?
    private var logBuffer: AccessLogBuffer?
    private var remoteIP: String?

    var phase = Phase.idle
    var exchange: Exchange? {
        didSet {
            // Counts this connection's request in `runtime.active` while there is one.
            let active = exchange != nil
            if active != counted {
                counted = active
                runtime.active.wrappingAdd(active ? 1 : -1, ordering: .relaxed)
                activity.inFlight += active ? 1 : -1
            }
        }
    }
    private var counted = false
    /// Bumped for every request so that late async results for an old request are ignored.
    var generation = 0
    var config: CompiledConfig

    private var readsPaused = false
    private var pendingRead = false
    /// Bytes of a body Gatehouse refused that it still reads and drops before closing.
    private let maxDrainBytes = 1 << 20

    /// Requests in progress on this handler's client connection (shared by its HTTP/2 streams).
    private let activity: ConnectionActivity
    /// An HTTP/2 stream: forwarding waits for the rest of the connection's read to be processed,
    /// so that a stream the client resets in the same read never costs the upstream a request.
    private let isHTTP2: Bool

    init(runtime: ProxyRuntime, pools: UpstreamPools, scheme: String, activity: ConnectionActivity, isHTTP2: Bool = false) {
        self.runtime = runtime
        self.pools = pools
        self.scheme = scheme
        self.config = runtime.config
        self.activity = activity
        self.isHTTP2 = isHTTP2
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.pool = pools.pool(for: context.eventLoop)
        self.logBuffer = pools.logBuffer(for: context.eventLoop)
        if let address = context.channel.remoteAddress { remoteIP = address.ipAddress }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        if counted {
            counted = false
            runtime.active.wrappingSubtract(1, ordering: .relaxed)
            activity.inFlight -= 1
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let head):
            startRequest(head, context: context)
        case .body(let buffer):
            guard var ex = exchange else { return }
            ex.bodyBytes += buffer.readableBytes
            exchange = ex
            if ex.bodyBytes > config.snapshot.settings.limits.maxRequestBodyBytes, phase != .draining {
                requestBodyTooLarge(context: context)
                return
            }
            switch phase {
            case .forwarding:
                guard let upstream = ex.upstream else { return }
                upstream.channel.write(NIOAny(HTTPClientRequestPart.body(.byteBuffer(buffer))), promise: nil)
            case .collecting:
                // Reads are open while collecting: refuse an oversized flow body as it arrives,
                // not after buffering up to the general body limit.
                exchange?.buffered.append(part)
                if ex.bodyBytes > OAuthEndpoint.maxBodyBytes { bodyCollected() }
            case .authenticating, .connecting, .answering:
                exchange?.buffered.append(part)
            case .draining:
                if ex.bodyBytes > maxDrainBytes { context.close(promise: nil) }
            case .idle:
                break
            }
        case .end:
            guard exchange != nil else { return }
            exchange?.requestEnded = true
            switch phase {
            case .forwarding:
                if let upstream = exchange?.upstream {
                    upstream.channel.write(NIOAny(HTTPClientRequestPart.end(nil)), promise: nil)  // flushed in channelReadComplete
                }
            case .authenticating, .connecting, .answering:
                exchange?.buffered.append(part)
            case .collecting:
                exchange?.buffered.append(part)
                bodyCollected()
            case .draining:
                finishDrain(context: context)
            case .idle:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if phase == .forwarding, let upstream = exchange?.upstream { upstream.channel.flush() }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused {
            pendingRead = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.upstream?.handler.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if var ex = exchange {
            if let upstream = ex.upstream {
                if ex.requestEnded, phase == .forwarding, let pool {
                    // The whole request went upstream: its response is read and dropped, and the
                    // connection goes back to the pool (a reset HTTP/2 stream costs no connection).
                    pool.discardResponseThenCheckin(upstream)
                } else {
                    // Mid-request: the upstream connection cannot be reused.
                    upstream.reusable = false
                    upstream.handler.delegate = nil
                    upstream.channel.close(promise: nil)
                }
                ex.upstream = nil
            }
            if ex.status == 0 { ex.status = 499 }
            exchange = ex
            completeExchange()
        }
        phase = .idle
        generation &+= 1
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let parserError = error as? HTTPParserError {
            // Malformed HTTP from the client: answer once if we can, then close.
            if exchange == nil || !(exchange?.responseHeadSent ?? true) {
                let status: HTTPResponseStatus
                switch parserError {
                case .headerOverflow: status = .requestHeaderFieldsTooLarge
                default: status = .badRequest
                }
                let response = LocalResponse.error(status, status == .badRequest ? "bad_request" : "headers_too_large", "the request could not be parsed")
                writeRaw(response, context: context)
            }
            context.close(promise: nil)
            return
        }
        context.close(promise: nil)
    }

    // MARK: - Read gating (backpressure)

    func pauseReads() { readsPaused = true }

    func resumeReads() {
        readsPaused = false
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    // MARK: - Request head

    private func startRequest(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        generation &+= 1
        config = runtime.config
        let settings = config.snapshot.settings
        var headers = head.headers
        let requestID = HeaderRewriting.saneRequestID(headers.first(name: "x-request-id")) ?? RequestID.generate()
        exchange = Exchange(head: head, requestID: requestID, host: nil, startedAt: monotonicSeconds())
        pauseReads()

        // Size limits first: nothing else should spend effort on an oversized request.
        var headerBytes = head.uri.utf8.count + 16
        for (name, value) in headers { headerBytes += name.utf8.count + value.utf8.count + 4 }
        if headerBytes > settings.limits.maxHeaderBytes {
            respondLocally(.error(.requestHeaderFieldsTooLarge, "headers_too_large", "the request headers are too large"), close: true)
            return
        }
        // Framing next, before anything of the request can be forwarded (docs/http.md).
        switch RequestFraming.decide(head) {
        case .success(let framing):
            exchange?.framing = framing
            if case .length(let n) = framing, n > settings.limits.maxRequestBodyBytes {
                respondLocally(.error(.payloadTooLarge, "body_too_large", "the request body is too large"), close: true)
                return
            }
        case .failure(.invalid(let message)):
            respondLocally(.error(.badRequest, "bad_request", message), close: true, reason: "bad_framing")
            return
        case .failure(.unsupportedCoding(let message)):
            respondLocally(.error(.notImplemented, "not_implemented", message), close: true, reason: "bad_framing")
            return
        }
        guard HTTPSyntax.isValidOriginForm(head.uri) else {
            let message = head.uri.hasPrefix("/") ? "invalid character in the request target" : "only origin-form request targets are accepted"
            respondLocally(.error(.badRequest, "bad_request", message), close: true, reason: "bad_target")
            return
        }

        // Host: exactly one (RFC 9112 3.2: required in HTTP/1.1), and plain (it is echoed into
        // URLs Gatehouse writes).
        let hosts = headers["host"]
        guard hosts.count <= 1, let host = hosts.first.map({ String($0) }) ?? Optional(""),
            host.isEmpty || Self.isSaneAuthority(host), !(host.isEmpty && head.version == .http1_1)
        else {
            respondLocally(.error(.badRequest, "bad_request", hosts.isEmpty ? "missing Host header" : "invalid Host header"), close: true)
            return
        }
        exchange?.host = host.isEmpty ? nil : host

        // Tenant by Host, then by path prefix.
        let path = Self.path(of: head.uri)
        var tenant: CompiledTenant?
        var routedByPrefix = false
        if !host.isEmpty, let id = config.snapshot.tenantByHost[ProtectedResourceMetadata.authorityHost(host)] {
            tenant = config.tenants[id]
        } else if let match = config.snapshot.tenant(forPath: path) {
            tenant = config.tenants[match.tenant]
            routedByPrefix = true
            if tenant?.tenant.match.stripPrefix == true { exchange?.strippedPrefix = match.prefix }
        }
        exchange?.tenant = tenant
        exchange?.routedTenant = tenant?.tenant.id
        // Gatehouse's OAuth endpoints answer under a tenant's path prefix as well as at the root:
        // a flow's URLs carry the prefix of the tenant it belongs to (see `oauthBase`).
        var localPath = path
        if let prefix = tenant?.tenant.match.pathPrefix, path.hasPrefix(prefix + OAuthFlows.cookiePath) {
            localPath = path.dropFirst(prefix.count)
            exchange?.oauthPrefix = prefix
        }
        exchange?.oauthBasePrefix = routedByPrefix ? (tenant?.tenant.match.pathPrefix ?? "") : ""

        // Strip before anything can read a spoofed identity header, for every request.
        HeaderRewriting.strip(&headers, config: config, tenant: tenant)
        exchange?.head.headers = headers

        switch OAuthEndpoint.match(method: head.method, path: localPath) {
        case .none:
            break
        case .some(.refuse(let response)):
            respondLocally(response, close: false)
            return
        case .some(.start(let handle)):
            startFlow(handle: handle)
            return
        case .some(.createFlow):
            exchange?.local = .createFlow
        case .some(.callback):
            exchange?.local = .callback
            if case .absent = HeaderRewriting.bearerToken(headers) {
                completeFlow(principal: nil)
                return
            }
        }

        if exchange?.local == nil, let reserved = ReservedEndpoints.handle(
            method: head.method, path: path, host: exchange?.host, scheme: scheme, config: config, signer: runtime.signer)
        {
            respondLocally(reserved, close: false)
            return
        }

        let token: String
        switch HeaderRewriting.bearerToken(headers) {
        case .absent:
            authenticationFailed(AuthError(.missingToken, reason: "missing_token"))
            return
        case .malformed:
            authenticationFailed(.invalid("malformed", "unusable Authorization header"))
            return
        case .token(let t):
            token = t
        }
        exchange?.token = token
        if token.utf8.count > settings.identity.maxTokenBytes {
            authenticationFailed(.invalid("too_large", "token of \(token.utf8.count) bytes"))
            return
        }

        let snapshot = config.snapshot
        if let principal = runtime.authenticator.cachedPrincipal(token: token, tenant: tenant?.tenant.id, snapshot: snapshot) {
            authenticated(principal)
            return
        }
        phase = .authenticating
        let runtime = self.runtime
        let generation = self.generation
        let tenantID = tenant?.tenant.id
        let promise = context.eventLoop.makePromise(of: Result<Principal, AuthError>.self)
        promise.completeWithTask {
            await runtime.authenticator.authenticate(token: token, tenant: tenantID, snapshot: snapshot)
        }
        promise.futureResult.assumeIsolated().whenSuccess { result in
            guard self.generation == generation, self.phase == .authenticating, self.context != nil else { return }
            switch result {
            case .success(let principal): self.authenticated(principal)
            case .failure(let failure): self.authenticationFailed(failure)
            }
        }
    }

    func authenticationFailed(_ failure: AuthError) {
        if exchange?.local == .callback {
            // A callback may prove itself with the flow cookie instead; a bad bearer is no proof.
            completeFlow(principal: nil)
            return
        }
        let tenant = exchange?.tenant
        runtime.metrics.authFailures.increment([tenant?.tenant.id.rawValue ?? "-", failure.reason])
        if failure.kind != .missingToken {
            runtime.logger.info(
                "authentication failed",
                metadata: [
                    "tenant": "\(tenant?.tenant.id.rawValue ?? "-")", "reason": "\(failure.reason)", "detail": "\(failure.detail)",
                    "request_id": "\(exchange?.requestID ?? "")",
                ])
        }
        let prm = ProtectedResourceMetadata.url(scheme: scheme, host: exchange?.host, tenant: tenant)
        respondLocally(.authFailure(failure, resourceMetadataURL: prm), close: false)
    }

    // MARK: - After authentication

    func authenticated(_ principal: Principal) {
        guard var ex = exchange, let tenant = config.tenants[principal.tenant] else {
            authenticationFailed(.invalid("unknown_issuer", "tenant vanished during reload"))
            return
        }
        if ex.tenant == nil {
            // Routed by issuer: strip this tenant's headers too (already covered by the union,
            // but keep the rule explicit).
            HeaderRewriting.strip(&ex.head.headers, config: config, tenant: tenant)
        }
        ex.tenant = tenant
        ex.principal = principal
        exchange = ex
        switch ex.local {
        case .createFlow?:
            phase = .collecting
            bodyCollected()
            return
        case .callback?:
            completeFlow(principal: principal)
            return
        case nil:
            break
        }
        let now = monotonicSeconds()
        // Admitted once per request, before any store lookup below: the tenant's rate limit
        // also bounds how often its callers can make a replica ask the database.
        if exchange?.rateAdmitted != true {
            if case .limited(let retryAfter) = tenant.limiter.admitRate(now: now) {
                var headers = HTTPHeaders()
                headers.add(name: "retry-after", value: String(retryAfter))
                respondLocally(.error(.tooManyRequests, "rate_limited", "too many requests for this tenant", headers: headers), close: false)
                return
            }
            exchange?.rateAdmitted = true
        }
        let unseen = unseenServerSessions(tenant: tenant)
        if !unseen.isEmpty {
            fetchSessionsThenContinue(unseen, principal: principal)
            return
        }
        guard tenant.limiter.acquireSlot() else {
            var headers = HTTPHeaders()
            headers.add(name: "retry-after", value: "1")
            respondLocally(
                .error(.tooManyRequests, "concurrency_limited", "too many concurrent requests for this tenant", headers: headers),
                close: false)
            return
        }
        exchange?.slotHeld = true
        var attempts = tenant.upstreams.attemptOrder(now: now)
        let newBindings: [SessionBinding]
        switch checkSessions(tenant: tenant, principal: principal, plannedUpstream: attempts.first) {
        case .refuse(let response):
            respondLocally(response, close: false)
            return
        case .proceed(let sticky, let stickyOnly, let bindings):
            if let sticky {
                attempts = stickyOnly ? [sticky] : [sticky] + attempts.filter { $0 !== sticky }
            }
            newBindings = bindings
        }
        // Built into locals first: `buildUpstreamHead` reads `exchange`, which must not be
        // under modification meanwhile (exclusive access).
        let upstreamHead = buildUpstreamHead(tenant: tenant, principal: principal)
        exchange?.upstreamHead = upstreamHead
        exchange?.attempts = attempts
        if newBindings.isEmpty {
            if isHTTP2, let context {
                // After the frames already read on this connection (a reset among them ends this
                // stream first; the generation check then drops the forward). Body parts are
                // buffered meanwhile.
                phase = .connecting
                let generation = self.generation
                context.eventLoop.assumeIsolated().execute {
                    guard self.generation == generation, self.phase == .connecting, self.context != nil else { return }
                    self.connectNext()
                }
            } else {
                connectNext()
            }
        } else {
            persistThenConnect(newBindings)
        }
    }

    private func buildUpstreamHead(tenant: CompiledTenant, principal: Principal) -> HTTPRequestHead {
        guard let ex = exchange else { preconditionFailure("no exchange") }
        let settings = config.snapshot.settings
        var headers = ex.head.headers
        let originalHost = ex.host
        HeaderRewriting.removeHopByHop(&headers)
        headers.remove(name: "expect")
        ex.framing.apply(to: &headers, method: ex.head.method)
        HeaderRewriting.trimValues(&headers)
        if tenant.tenant.authorization == .drop { headers.remove(name: "authorization") }
        HeaderRewriting.propagate(into: &headers, tenant: tenant, principal: principal, logger: runtime.logger, requestID: ex.requestID)
        if settings.assertion.enabled, let signer = runtime.signer {
            headers.replaceOrAdd(name: settings.assertion.header, value: signer.assertion(for: principal))
        }
        if let ip = remoteIP {
            let prior = headers[canonicalForm: "x-forwarded-for"].joined(separator: ", ")
            headers.replaceOrAdd(name: "x-forwarded-for", value: prior.isEmpty ? ip : "\(prior), \(ip)")
        }
        headers.replaceOrAdd(name: "x-forwarded-proto", value: scheme)
        if let originalHost { headers.replaceOrAdd(name: "x-forwarded-host", value: originalHost) } else { headers.remove(name: "x-forwarded-host") }
        headers.replaceOrAdd(name: "x-request-id", value: ex.requestID)
        if !HeaderRewriting.saneTraceparent(headers.first(name: "traceparent")) {
            headers.remove(name: "traceparent")
            headers.remove(name: "tracestate")
        }

        var uri = ex.head.uri
        if let prefix = ex.strippedPrefix, uri.hasPrefix(prefix) {
            uri = String(uri.dropFirst(prefix.count))
            if uri.isEmpty || uri.first == "?" { uri = "/" + uri }
        }
        return HTTPRequestHead(version: .http1_1, method: ex.head.method, uri: uri, headers: headers)
    }

    // MARK: - Upstream connection

    func connectNext() {
        guard var ex = exchange, let pool else { return }
        guard !ex.attempts.isEmpty else {
            respondLocally(.error(.badGateway, "bad_gateway", "no upstream instance could be reached"), close: false, reason: "no_upstream")
            return
        }
        let instance = ex.attempts.removeFirst()
        exchange = ex
        if let conn = pool.checkout(instance) {
            startForwarding(conn)
            return
        }
        phase = .connecting
        let limits = config.snapshot.settings.limits
        let generation = self.generation
        pool.connect(
            instance, connectTimeout: .milliseconds(Int64(limits.upstreamConnectTimeoutSeconds * 1000)),
            idleTimeout: .milliseconds(Int64(limits.upstreamIdleTimeoutSeconds * 1000))
        ).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let conn):
                guard self.generation == generation, self.phase == .connecting, self.context != nil else {
                    // Nobody needs it any more; keep it for the next request.
                    pool.checkin(conn)
                    return
                }
                self.startForwarding(conn)
            case .failure(let error):
                instance.recordFailure(now: monotonicSeconds())
                guard self.generation == generation, self.phase == .connecting else { return }
                self.runtime.logger.warning(
                    "upstream connect failed",
                    metadata: ["upstream": "\(instance.upstream)", "error": "\(error)", "request_id": "\(self.exchange?.requestID ?? "")"])
                self.connectNext()
            }
        }
    }

    private func startForwarding(_ conn: UpstreamConnection) {
        guard var ex = exchange, let head = ex.upstreamHead else { return }
        conn.handler.delegate = self
        ex.upstream = conn
        ex.upstreamName = conn.instance.upstream.description
        ex.upstreamStartedAt = monotonicSeconds()
        var head2 = head
        if ex.tenant?.tenant.preserveHost != true || !head2.headers.contains(name: "host") {
            head2.headers.replaceOrAdd(name: "host", value: conn.instance.upstream.hostHeader)
        }
        let base = conn.instance.upstream.basePath
        if !base.isEmpty { head2.uri = base + head2.uri }
        let buffered = ex.buffered
        ex.buffered = []
        exchange = ex
        phase = .forwarding
        let headWritten = conn.channel.eventLoop.makePromise(of: Void.self)
        let generation = self.generation
        headWritten.futureResult.assumeIsolated().whenFailure { error in
            // Refused before it left (the encoder's own validation): the request, not the
            // upstream, is at fault, so the instance's health is left alone.
            guard self.generation == generation, self.exchange?.upstream === conn, error is HTTPParserError else { return }
            conn.handler.delegate = nil
            self.respondLocally(.error(.badRequest, "bad_request", "the request cannot be forwarded"), close: true, reason: "unencodable_request")
        }
        conn.channel.write(NIOAny(HTTPClientRequestPart.head(head2)), promise: headWritten)
        for part in buffered {
            switch part {
            case .body(let b): conn.channel.write(NIOAny(HTTPClientRequestPart.body(.byteBuffer(b))), promise: nil)
            case .end: conn.channel.write(NIOAny(HTTPClientRequestPart.end(nil)), promise: nil)
            case .head: break
            }
        }
        conn.channel.flush()
        if !ex.requestEnded, let expect = ex.head.headers.first(name: "expect"), expect.lowercased() == "100-continue", let context {
            // The client waits for a go-ahead before sending its body; the upstream never saw
            // `Expect`, so Gatehouse gives it, now that the request is authorised and routed.
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .continue))), promise: nil)
        }
        if conn.channel.isWritable { resumeReads() }
    }

    // MARK: - UpstreamDelegate

    var clientWritable: Bool { (context?.channel.isWritable ?? false) && exchange?.held == nil }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard let context, var ex = exchange, let conn = ex.upstream else { return }
        if ex.held != nil {
            // A binding is being made durable: nothing reaches the client before it is.
            exchange?.held?.append(part)
            return
        }
        switch part {
        case .head(var head):
            if head.status.code < 200 { return }  // informational responses are not relayed
            conn.instance.recordSuccess()
            runtime.metrics.upstreamLatency.observe([ex.tenant?.tenant.id.rawValue ?? "-"], monotonicSeconds() - ex.upstreamStartedAt)
            if !head.isKeepAlive { conn.reusable = false }
            HeaderRewriting.removeHopByHop(&head.headers)
            HeaderRewriting.trimValues(&head.headers)
            if !head.headers.contains(name: "x-request-id") { head.headers.add(name: "x-request-id", value: ex.requestID) }
            if !ex.head.isKeepAlive { ex.closeAfterResponse = true }
            if ex.closeAfterResponse { head.headers.replaceOrAdd(name: "connection", value: "close") }
            head.version = .http1_1
            ex.status = Int(head.status.code)
            ex.responseHeadSent = true
            exchange = ex
            let responseHead = HTTPResponseHead(version: head.version, status: head.status, headers: head.headers)
            startElicitationScan(head: responseHead)
            let newBindings = sessionsAfterResponse(head: responseHead, instance: conn.instance)
            if !newBindings.isEmpty {
                holdResponse(responseHead, until: newBindings)
                return
            }
            context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        case .body(let buffer):
            exchange?.bytesOut += buffer.readableBytes
            if let scanner = ex.scanner {
                scanner.feed(buffer.readableBytesView)
                recordElicitations(scanner.drain())
            }
            // Flushed at the end of each upstream read (`upstreamReadComplete`): one write for a
            // small response, and server-sent events still reach the client event by event.
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            if let scanner = ex.scanner { recordElicitations(scanner.finish()) }
            finishForwardedResponse(trailers: trailers, context: context)
        }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged(writable: Bool) {
        guard phase == .forwarding else { return }
        if writable { resumeReads() } else { pauseReads() }
    }

    func upstreamFailed(_ error: Error) {
        runtime.logger.warning(
            "upstream error", metadata: ["error": "\(error)", "request_id": "\(exchange?.requestID ?? "")", "upstream": "\(exchange?.upstream?.instance.upstream.description ?? "-")"])
        upstreamBroke(timeout: false)
    }

    func upstreamIdleTimeout() {
        upstreamBroke(timeout: true)
    }

    func upstreamClosed() {
        upstreamBroke(timeout: false)
    }

    /// The upstream connection failed, timed out or closed before the response ended.
    private func upstreamBroke(timeout: Bool) {
        guard var ex = exchange, let conn = ex.upstream else { return }
        conn.reusable = false
        conn.handler.delegate = nil
        conn.channel.close(promise: nil)
        ex.upstream = nil
        exchange = ex
        if !timeout { conn.instance.recordFailure(now: monotonicSeconds()) }
        if ex.responseHeadSent {
            // Mid-stream: all we can do is end the client connection so it sees the truncation.
            ex.closeAfterResponse = true
            ex.reason = timeout ? "upstream_timeout" : "upstream_closed"
            exchange = ex
            completeExchange()
            context?.close(promise: nil)
            return
        }
        if timeout {
            respondLocally(.error(.gatewayTimeout, "gateway_timeout", "the upstream did not answer in time"), close: !ex.requestEnded, reason: "upstream_timeout")
        } else {
            respondLocally(.error(.badGateway, "bad_gateway", "the upstream connection failed"), close: !ex.requestEnded, reason: "upstream_failed")
        }
    }

    private func finishForwardedResponse(trailers: HTTPHeaders?, context: ChannelHandlerContext) {
        guard var ex = exchange, let conn = ex.upstream else { return }
        ex.upstream = nil
        exchange = ex
        if ex.requestEnded, phase == .forwarding {
            pool?.checkin(conn)
        } else {
            // The upstream answered before the request body was complete: that connection is
            // mid-request and cannot be reused; the client connection cannot either.
            conn.reusable = false
            conn.handler.delegate = nil
            conn.channel.close(promise: nil)
            ex.closeAfterResponse = true
            exchange = ex
        }
        let close = ex.closeAfterResponse
        completeExchange()
        // State is reset before `.end` is written: writing it may deliver the next pipelined request.
        let end = context.writeAndFlush(wrapOutboundOut(.end(trailers)))
        if close { end.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
        resumeReads()
    }

    // MARK: - Local responses

    func respondLocally(_ response: LocalResponse, close: Bool, reason: String? = nil) {
        guard let context, var ex = exchange else { return }
        if let upstream = ex.upstream {
            upstream.reusable = false
            upstream.handler.delegate = nil
            upstream.channel.close(promise: nil)
            ex.upstream = nil
        }
        ex.status = Int(response.status.code)
        ex.reason = reason ?? response.reason
        ex.buffered = []
        // This request has its answer: a later parse error in its body must not write another.
        ex.responseHeadSent = true
        let closeConnection = close || !ex.head.isKeepAlive || ex.closeAfterResponse
        ex.closeAfterResponse = closeConnection
        exchange = ex
        var headers = response.headers
        headers.replaceOrAdd(name: "content-length", value: String(response.body.count))
        headers.replaceOrAdd(name: "x-request-id", value: ex.requestID)
        if closeConnection { headers.replaceOrAdd(name: "connection", value: "close") }
        ex.bytesOut = response.body.count
        exchange = ex
        let requestEnded = ex.requestEnded
        if requestEnded || closeConnection {
            completeExchange()
        } else {
            phase = .draining
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
        if !response.body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: response.body.count)
            buffer.writeBytes(response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let end = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if closeConnection {
            end.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else {
            resumeReads()
        }
    }

    private func writeRaw(_ response: LocalResponse, context: ChannelHandlerContext) {
        var headers = response.headers
        headers.replaceOrAdd(name: "content-length", value: String(response.body.count))
        headers.replaceOrAdd(name: "connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        buffer.writeBytes(response.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    private func requestBodyTooLarge(context: ChannelHandlerContext) {
        guard let ex = exchange else { return }
        if ex.responseHeadSent {
            // Already streaming a response: the only honest move is to cut the connection.
            ex.upstream?.channel.close(promise: nil)
            context.close(promise: nil)
            return
        }
        respondLocally(.error(.payloadTooLarge, "body_too_large", "the request body is too large"), close: true)
    }

    private func finishDrain(context: ChannelHandlerContext) {
        completeExchange()
    }

    // MARK: - Bookkeeping

    /// Records the finished request (access log, metrics, limits) and resets the state.
    private func completeExchange() {
        guard let ex = exchange else { return }
        exchange = nil
        phase = .idle
        if ex.slotHeld { ex.tenant?.limiter.releaseSlot() }
        let tenantLabel = ex.tenant?.tenant.id.rawValue
        runtime.metrics.requests.increment([tenantLabel ?? "-", String(ex.status)])
        runtime.accessLog.write(
            AccessLog.Entry(
                requestID: ex.requestID, tenant: tenantLabel, method: ex.head.method.rawValue, uri: ex.head.uri, status: ex.status,
                durationSeconds: monotonicSeconds() - ex.startedAt, upstream: ex.upstreamName,
                bytesIn: ex.bodyBytes, bytesOut: ex.bytesOut, reason: ex.reason, subject: ex.principal?.subject),
            buffer: logBuffer)
    }

    // MARK: - Helpers

    static func path(of uri: String) -> Substring {
        let s = Substring(uri)
        if let q = s.firstIndex(of: "?") { return s[..<q] }
        return s
    }

    /// Host names, IPv4 and bracketed IPv6 literals with an optional port: nothing that could
    /// break out of a quoted header parameter or a URL.
    static func isSaneAuthority(_ host: String) -> Bool {
        guard host.utf8.count <= 255 else { return false }
        for b in host.utf8 {
            let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: ":") || b == UInt8(ascii: "[")
                || b == UInt8(ascii: "]") || b == UInt8(ascii: "_")
            if !ok { return false }
        }
        return true
    }
}
