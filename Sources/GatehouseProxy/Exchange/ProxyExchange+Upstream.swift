import GatehouseCore
import GatehouseSessions
import NIOCore
import Tracing

extension ProxyExchange: UpstreamLinkDelegate {
    // MARK: - Connecting

    func connectNext() {
        guard attemptIndex < attempts.count else {
            respondLocally(.error(.badGateway, "bad_gateway", "no upstream instance could be reached"), close: false, reason: "no_upstream")
            return
        }
        let instance = attempts[attemptIndex]
        attemptIndex += 1
        if let trace {
            if trace.upstream == nil { trace.upstream = trace.child("upstream", kind: .client) }
            if let span = trace.upstream, span.isRecording {
                span.attributes["server.address"] = instance.upstream.host
                span.attributes["server.port"] = instance.upstream.port
                span.attributes["gatehouse.upstream.attempt"] = attemptIndex
            }
        }
        if let conn = loop.pool.checkout(instance) {
            startForwarding(conn)
            return
        }
        stage = .connecting
        let limits = settings.limits
        let pool = loop.pool
        pool.connect(
            instance, connectTimeout: .milliseconds(Int64(limits.upstreamConnectTimeoutSeconds * 1000)),
            idleTimeout: .milliseconds(Int64(limits.upstreamIdleTimeoutSeconds * 1000)), maxHeadBytes: max(limits.maxHeaderBytes, 16 * 1024)
        ).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let conn):
                guard self.stage == .connecting, self.client?.isServing(self) == true else {
                    // Nobody needs it any more; keep it for the next request.
                    pool.checkin(conn)
                    return
                }
                self.startForwarding(conn)
            case .failure(let error):
                instance.recordFailure(now: monotonicSeconds())
                guard self.stage == .connecting, self.client?.isServing(self) == true else { return }
                self.trace?.upstream?.addEvent(SpanEvent(name: "connect failed", attributes: ["server.address": .string(instance.upstream.host)]))
                self.runtime.logger.warning(
                    "upstream connect failed",
                    metadata: ["upstream": "\(instance.upstream)", "error": "\(error)", "request_id": "\(self.requestID.string)"])
                self.connectNext()
            }
        }
    }

    private func startForwarding(_ conn: PooledUpstream) {
        guard let principal, let tenant else { return }
        conn.link.delegate = self
        conn.link.begin(method: head.method, upgrade: upgrade == .websocket)
        upstream = conn
        upstreamName = conn.instance.name
        upstreamStartedAt = monotonicSeconds()
        stage = .forwarding
        forwardChunked = framing == .chunked

        var assertion: ByteBuffer?
        if config.hot.assertionEnabled, let signer = runtime.signer {
            let now = runtime.clock()
            if let entry = verified, let line = entry.assertion, now < entry.assertionReuseUntil {
                assertion = line
            } else {
                let (token, until) = signer.reusableAssertion(for: principal)
                let line = PropagatedLines.assertion(header: config.hot.assertionHeader, token: token)
                verified?.assertion = line
                verified?.assertionReuseUntil = until
                assertion = line
            }
        }
        let propagated = verified?.propagated ?? PropagatedLines.build(tenant: tenant, principal: principal, logger: runtime.logger)
        let input = UpstreamHead.Input(
            head: head, framing: framing, strippedPrefix: strippedPrefix, basePath: conn.instance.upstream.basePath,
            upstreamHost: conn.instance.hostHeader, preserveHost: tenant.tenant.preserveHost,
            dropAuthorization: tenant.tenant.authorization == .drop, propagated: propagated, assertion: assertion,
            sessionLines: sessionLines, clientIP: clientIP, scheme: scheme, clientHost: host, requestID: requestID,
            websocket: upgrade == .websocket, webSocketKey: upgrade == .websocket && isHTTP2 ? UpstreamHead.newWebSocketKey() : nil,
            trace: trace.map { trace in
                if let span = trace.upstream, span.isRecording {
                    span.attributes["gatehouse.upstream"] = conn.instance.name
                    span.attributes["http.request.method"] = head.methodName
                }
                return trace.upstreamFields()
            })
        var out = conn.channel.allocator.buffer(capacity: head.bytes.readableBytes + propagated.readableBytes + 600)
        UpstreamHead.write(input, into: &out)
        conn.link.write(out)
        if let body = mcpBody {
            // An MCP body, read whole before the policy decided: it goes with its head.
            mcpBody = nil
            if body.readableBytes > 0 { conn.link.write(body) }
        }
        if !requestEnded {
            if let expect = head.first(.expect), head.valueEquals(expect, "100-continue") {
                // The client waits for a go-ahead before sending its body; the upstream never saw
                // `Expect`, so Gatehouse gives it, now that the request is authorised and routed.
                client?.sendContinue()
            }
            // Body bytes already read go out with the head (one write).
            client?.bodyWanted()
        }
        // Within a read from the client, the flush comes at the end of that read.
        if client?.inReadBatch != true { conn.link.flush() }
    }

    // MARK: - UpstreamLinkDelegate

    var clientCanTakeMore: Bool { (client?.isWritable ?? false) && held == nil }

    func upstreamResponseHead(_ response: ResponseHead) {
        guard let conn = upstream, client != nil else { return }
        conn.instance.recordSuccess()
        if let tenant { loop.stats.upstreamLatency(tenant: tenant, seconds: monotonicSeconds() - upstreamStartedAt) }
        status = response.status
        if let span = trace?.upstream, span.isRecording { span.attributes["http.response.status_code"] = response.status }
        var response = response
        let framing = prepare(&response)
        clientFraming = framing
        if case .untilClose = framing { closeAfter = true }
        let switching = response.status == 101
        var outgoing = OutgoingHead(
            status: response.status, upstream: response, extra: switching ? Self.switchingFields : [], framing: framing,
            close: closeAfter && !switching, requestID: response.first(.xRequestID) == nil ? requestID : nil)
        if !switching { startElicitationScan(response) }
        if filtersToolsList, !startToolsListFilter(response, outgoing: &outgoing) {
            refuseUnfilterableToolsList()
            return
        }
        outgoing.close = closeAfter && !switching
        responseHeadSent = true
        let newBindings = sessionsAfterResponse(response, instance: conn.instance)
        if !newBindings.isEmpty {
            holdResponse(outgoing, until: newBindings)
            return
        }
        sendResponseHead(outgoing)
        if switching { switchProtocols() }
    }

    /// The response head to the client — unless a `tools/list` answer holds it until its body is
    /// rewritten.
    func sendResponseHead(_ outgoing: OutgoingHead) {
        if toolsFilter?.mode == .json {
            toolsFilterHead = outgoing
            return
        }
        client?.writeHead(outgoing, body: nil)
    }

    /// The hop-by-hop fields of a `101` to a WebSocket handshake, written by Gatehouse.
    static let switchingFields = [("Connection", "Upgrade"), ("Upgrade", "websocket")]

    /// The `101` went to the client: from now on the connection is a tunnel. Client bytes go
    /// upstream as they come (none before this point: bytes sent early waited in the client's
    /// buffer), upstream bytes come back as the response "body", each way with backpressure;
    /// either side closing, or the upstream idle timeout, ends both. The tunnel holds no
    /// concurrency slot of its tenant (a long-lived socket must not starve requests).
    func switchProtocols() {
        tunnel = true
        requestEnded = false
        closeAfter = true
        if slotHeld {
            slotHeld = false
            tenant?.limiter.releaseSlot()
        }
        releaseSubjectSlot()
        client?.switchedProtocols()
        client?.flush()
    }

    /// Marks what of the upstream's head does not go to the client, and decides the client's framing.
    private func prepare(_ response: inout ResponseHead) -> ClientFraming {
        var named: [String] = []
        for f in response.fields where f.kind == .connection {
            named.append(contentsOf: response.connectionTokens(f).others)
        }
        let reader = response.bodyReader(requestMethod: head.method)
        let noBody: Bool
        if case .none? = reader { noBody = true } else { noBody = false }
        response.withBytes { p in
            for i in response.fields.indices {
                let f = response.fields[i]
                var drop = f.kind.isHopByHop || f.kind == .transferEncoding || (f.kind == .contentLength && !noBody)
                if !drop, f.hasUnderscore {
                    drop = FieldKind.classifyFolded(UnsafeRawBufferPointer(rebasing: p[Int(f.nameStart)..<Int(f.nameEnd)])).guardsLookalikes
                }
                if !drop, !named.isEmpty, f.kind == .other {
                    let name = UnsafeRawBufferPointer(rebasing: p[Int(f.nameStart)..<Int(f.nameEnd)])
                    drop = named.contains { n in n.utf8.count == name.count && zip(n.utf8, name).allSatisfy { $0 == HTTPBytes.lower($1) } }
                }
                response.fields[i].dropped = drop
            }
        }
        switch reader {
        case .none?, nil: return .none
        case .length(let n)?: return .length(n)
        case .chunked?, .untilClose?: return head.isHTTP10 ? .untilClose : .chunked
        }
    }

    func upstreamResponseBody(_ data: ByteBuffer) {
        if held != nil {
            held?.append(.body(data))
            return
        }
        relayBody(data)
    }

    func relayBody(_ data: ByteBuffer) {
        if let scanner {
            scanner.feed(data.readableBytesView)
            recordElicitations(scanner.drain())
        }
        var data = data
        if toolsFilter != nil {
            guard let filtered = filterToolsList(data) else { return }
            data = filtered
            guard data.readableBytes > 0 else { return }
        }
        bytesOut += data.readableBytes
        client?.writeBody(data)
    }

    func upstreamResponseEnd() {
        if held != nil {
            held?.append(.end)
            return
        }
        if let scanner { recordElicitations(scanner.finish()) }
        if toolsFilter != nil {
            guard finishToolsList() else { return }
        }
        responseEnded = true
        trace?.endUpstream()
        if requestEnded {
            responseFinishedWithUpstream()
        } else if let conn = upstream {
            // The upstream answered before the request body was complete: that connection is
            // mid-request and cannot be reused; the client connection cannot either.
            conn.link.delegate = nil
            conn.channel.close(promise: nil)
            upstream = nil
            closeAfter = true
        }
        client?.writeEnd()
        maybeFinish()
    }

    /// Response and request both complete: the upstream connection goes back to the pool.
    func responseFinishedWithUpstream() {
        guard let conn = upstream, conn.link.responseComplete else { return }
        upstream = nil
        loop.pool.checkin(conn)
    }

    func upstreamReadComplete() {
        client?.flush()
    }

    func upstreamWritabilityChanged(_ writable: Bool) {
        guard stage == .forwarding else { return }
        client?.upstreamWritable(writable)
    }

    func upstreamBroke(_ failure: UpstreamFailure) {
        guard let conn = upstream else { return }
        upstream = nil
        if failure.blamesInstance { conn.instance.recordFailure(now: monotonicSeconds()) }
        runtime.logger.warning(
            "upstream error", metadata: ["error": "\(failure)", "request_id": "\(requestID.string)", "upstream": "\(conn.instance.upstream.description)"])
        let timeout: Bool
        if case .idleTimeout = failure { timeout = true } else { timeout = false }
        trace?.endUpstream(error: timeout ? "upstream_timeout" : "upstream_failed")
        if responseHeadSent && held == nil {
            // Mid-stream: all that can be done is end the client connection so it sees the truncation.
            abortClient(reason: timeout ? "upstream_timeout" : "upstream_closed")
            return
        }
        responseHeadSent = false
        held = nil
        heldHead = nil
        if timeout {
            respondLocally(.error(.gatewayTimeout, "gateway_timeout", "the upstream did not answer in time"), close: !requestEnded, reason: "upstream_timeout")
        } else {
            respondLocally(.error(.badGateway, "bad_gateway", "the upstream connection failed"), close: !requestEnded, reason: "upstream_failed")
        }
    }

    /// The client can take more response bytes again.
    func clientBecameWritable() {
        upstream?.link.resumeReading()
    }
}

extension LinkPool {
    /// Reads and drops the response to a request whose client went away after the whole
    /// request was sent, then returns the connection to the pool (a client resetting streams
    /// cannot make Gatehouse throw pooled connections away). Over 256 KiB, or on any failure,
    /// the connection is closed instead; the idle timeout bounds a response that never ends.
    func discardResponseThenCheckin(_ conn: PooledUpstream) {
        let discarder = ResponseDiscarder(connection: conn, pool: self)
        conn.link.retainedDelegate = discarder
        conn.link.delegate = discarder
        conn.link.resumeReading()
    }
}

/// See `LinkPool.discardResponseThenCheckin`.
final class ResponseDiscarder: UpstreamLinkDelegate {
    static let limit = 256 * 1024
    private let connection: PooledUpstream
    private let pool: LinkPool
    private var bytes = 0

    init(connection: PooledUpstream, pool: LinkPool) {
        self.connection = connection
        self.pool = pool
    }

    var clientCanTakeMore: Bool { true }
    func upstreamResponseHead(_ head: ResponseHead) {}
    func upstreamResponseBody(_ data: ByteBuffer) {
        bytes += data.readableBytes
        if bytes > Self.limit {
            connection.link.delegate = nil
            connection.link.retainedDelegate = nil
            connection.channel.close(promise: nil)
        }
    }
    func upstreamResponseEnd() {
        connection.link.retainedDelegate = nil
        pool.checkin(connection)
    }
    func upstreamReadComplete() {}
    func upstreamWritabilityChanged(_ writable: Bool) {}
    func upstreamBroke(_ failure: UpstreamFailure) { connection.link.retainedDelegate = nil }
}
