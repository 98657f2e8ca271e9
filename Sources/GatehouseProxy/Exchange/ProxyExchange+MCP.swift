import GatehouseCore
import NIOCore

/// What the access line and the metrics say of an MCP request (docs/mcp.md "Audit").
struct MCPAudit {
    var method: String?
    /// The tool of a `tools/call` (the client's text: logged, never a metric label).
    var tool: String?
    var protocolVersion: String?
    /// allowed | tool_forbidden | insufficient_scope | invalid_request | too_large
    var outcome: String
    /// The tool rule that decided (its `name` glob, from the tenant file).
    var rule: String?
}

/// MCP-aware tenants (docs/mcp.md): the JSON-RPC body of a POST on the tenant's MCP paths is read
/// (at most 1 MiB) and parsed once, after authentication and before any session is bound or any
/// byte goes upstream; the routing headers must agree with it; `tools/call` goes through the
/// tenant's tool policy; the body then goes upstream with its length.
extension ProxyExchange {
    /// Whether this request's body is read as MCP before anything else happens to it.
    func readsMCPBody(_ tenant: CompiledTenant) -> Bool {
        guard let policy = tenant.tenant.mcp, !mcpChecked, head.method == .post, upgrade == .none else { return false }
        var forwarded = Substring(path)
        if let prefix = strippedPrefix, forwarded.hasPrefix(prefix) {
            forwarded = forwarded.dropFirst(prefix.count)
            if forwarded.isEmpty { forwarded = "/" }
        }
        return policy.covers(path: forwarded)
    }

    func collectMCPBody() {
        if case .length(let n) = framing, n > MCPLimits.maxBodyBytes {
            refuseMCP(.error(.payloadTooLarge, "body_too_large", "an MCP request body is at most 1 MiB"), outcome: "too_large", close: true)
            return
        }
        stage = .collecting
        collectingMCP = true
        if requestEnded {
            mcpBodyCollected()
        } else {
            // A client waiting with `Expect: 100-continue` gets its go-ahead now: the body is
            // read here, before anything goes upstream.
            if let expect = head.first(.expect), head.valueEquals(expect, "100-continue") { client?.sendContinue() }
            client?.bodyWanted()
        }
    }

    /// Body bytes of an MCP request, kept until the body is complete.
    func collectMCP(_ data: ByteBuffer) {
        if bodyBytes > MCPLimits.maxBodyBytes {
            mcpBodyCollected()
            return
        }
        var body = mcpBody ?? ByteBufferAllocator().buffer(capacity: max(data.readableBytes, 1024))
        var data = data
        body.writeBuffer(&data)
        mcpBody = body
    }

    func mcpBodyCollected() {
        guard stage == .collecting, collectingMCP else { return }
        if bodyBytes > MCPLimits.maxBodyBytes {
            refuseMCP(.error(.payloadTooLarge, "body_too_large", "an MCP request body is at most 1 MiB"), outcome: "too_large", close: true)
            return
        }
        guard requestEnded, let tenant, let principal, let policy = tenant.tenant.mcp else { return }
        collectingMCP = false
        let body = mcpBody ?? ByteBuffer()
        let request: MCPRequest
        switch MCPRequest.parse(Array(body.readableBytesView)) {
        case .failure(let refusal):
            refuseMCP(.error(.badRequest, "invalid_request", refusal.message), outcome: "invalid_request")
            return
        case .success(let r):
            request = r
        }
        let headers = mcpHeaders()
        var audit = MCPAudit(
            method: request.isBatch ? "batch" : request.messages[0].method ?? "response",
            tool: request.isBatch || request.messages[0].method != "tools/call" ? nil : request.messages[0].name,
            protocolVersion: request.protocolVersion(header: headers.protocolVersion), outcome: "allowed")
        mcpAudit = audit
        if let refusal = headers.refusal ?? request.checkHeaders(method: headers.method, name: headers.name) {
            refuseMCP(.error(.badRequest, "invalid_request", refusal.message), outcome: "invalid_request")
            return
        }
        for message in request.messages where message.method == "tools/call" {
            let decision = policy.decide(tool: message.name ?? "", principal: principal)
            switch decision {
            case .allowed(let rule):
                audit.rule = rule
            case .forbidden(let rule):
                audit.rule = rule
                mcpAudit = audit
                if request.isBatch {
                    refuseMCP(.error(.badRequest, "invalid_request", "a batch is forwarded only when every call in it is allowed"), outcome: "tool_forbidden")
                } else {
                    refuseMCP(.error(.forbidden, "tool_forbidden", "this tool may not be called by this caller"), outcome: "tool_forbidden")
                }
                return
            case .missingScopes(let scopes, let rule):
                audit.rule = rule
                mcpAudit = audit
                if request.isBatch {
                    refuseMCP(.error(.badRequest, "invalid_request", "a batch is forwarded only when every call in it is allowed"), outcome: "insufficient_scope")
                } else {
                    let prm = ProtectedResourceMetadata.url(scheme: scheme, host: host, tenant: tenant)
                    refuseMCP(.authFailure(AuthError(.insufficientScope(required: scopes), reason: "tool_scope"), resourceMetadataURL: prm), outcome: "insufficient_scope")
                }
                return
            }
        }
        if let refusal = mirrorSessionArguments(request, tenant: tenant) {
            refuseMCP(.error(.badRequest, "invalid_request", refusal.message), outcome: "invalid_request")
            return
        }
        mcpAudit = audit
        countMCP(audit)
        if policy.filterToolsList, !request.isBatch, request.messages[0].method == "tools/list" {
            filtersToolsList = true
            // The list is read as it comes back: ask for it without a content coding.
            for i in head.fields.indices where head.fields[i].nameLength == 15 {
                let f = head.fields[i]
                if head.withBytes({ FieldKind.matches(UnsafeRawBufferPointer(rebasing: $0[Int(f.nameStart)..<Int(f.nameEnd)]), "accept-encoding") }) {
                    head.fields[i].dropped = true
                }
            }
        }
        mcpRequest = request
        // The body goes upstream as it was read, with its length.
        framing = body.readableBytes == 0 ? .none : .length(body.readableBytes)
        mcpBody = body
        mcpChecked = true
        stage = .admitting
        authenticated(principal)
    }

    /// Session rules with `argument`: a `tools/call`'s argument is the session id its header
    /// mirrors. Absent header: the argument's value becomes the header (a 2025-11-25 client sends
    /// none), so the binding holds in both protocol versions; present: the two must agree.
    private func mirrorSessionArguments(_ request: MCPRequest, tenant: CompiledTenant) -> MCPRequest.Refusal? {
        for (index, (canonical, rule)) in tenant.sessionRules.enumerated() {
            guard let argument = rule.argument else { continue }
            for message in request.messages where message.method == "tools/call" {
                guard let value = message.arguments?[argument], value != .null else { continue }
                guard request.messages.count == 1 else {
                    return MCPRequest.Refusal(message: "a batch cannot carry a session argument (\(argument))")
                }
                guard let text = MCPRequest.argumentText(value) else {
                    return MCPRequest.Refusal(message: "the \(argument) argument must be a string, a number or a boolean")
                }
                let encoded = MCPRequest.encodeHeaderValue(text)
                let found = sessionFields(canonical: canonical, hash: tenant.sessionHashes[index])
                if let first = found.first {
                    let sent = head.value(head.fields[first])
                    guard sent == encoded || MCPRequest.decodeHeaderValue(sent) == text else {
                        return MCPRequest.Refusal(message: "\(rule.header) does not match the \(argument) argument")
                    }
                } else {
                    head.appendField(name: rule.header, value: encoded)
                }
            }
        }
        return nil
    }

    private func refuseMCP(_ response: LocalResponse, outcome: String, close: Bool = false) {
        var audit = mcpAudit ?? MCPAudit(outcome: outcome)
        audit.outcome = outcome
        mcpAudit = audit
        countMCP(audit)
        collectingMCP = false
        respondLocally(response, close: close || !requestEnded, reason: outcome)
    }

    private func countMCP(_ audit: MCPAudit) {
        runtime.metrics.mcpCalls.increment([tenant?.tenant.id.rawValue ?? "-", Self.methodLabel(audit.method), audit.outcome])
    }

    /// A bounded label: the MCP methods of the specification, else a class.
    static func methodLabel(_ method: String?) -> String {
        guard let method else { return "other" }
        if knownMethods.contains(method) { return method }
        if method.hasPrefix("notifications/") { return "notification" }
        return "other"
    }

    static let knownMethods: Set<String> = [
        "initialize", "ping", "server/discover", "tools/list", "tools/call", "prompts/list", "prompts/get", "resources/list",
        "resources/templates/list", "resources/read", "resources/subscribe", "resources/unsubscribe", "completion/complete",
        "logging/setLevel", "tasks/get", "tasks/list", "tasks/cancel", "tasks/result", "batch", "response",
    ]

    struct MCPHeaders {
        var method: String?
        var name: String?
        var protocolVersion: String?
        var refusal: MCPRequest.Refusal?
    }

    /// `Mcp-Method`, `Mcp-Name` and `MCP-Protocol-Version` (any letter case); each at most once.
    func mcpHeaders() -> MCPHeaders {
        var out = MCPHeaders()
        var seen = 0  // a bit per header
        head.withBytes { p in
            for f in head.fields where f.kind == .other && (f.nameLength == 8 || f.nameLength == 10 || f.nameLength == 20) {
                let name = UnsafeRawBufferPointer(rebasing: p[Int(f.nameStart)..<Int(f.nameEnd)])
                let which: Int
                if FieldKind.matches(name, "mcp-method") {
                    which = 0
                } else if FieldKind.matches(name, "mcp-name") {
                    which = 1
                } else if FieldKind.matches(name, "mcp-protocol-version") {
                    which = 2
                } else {
                    continue
                }
                guard seen & (1 << which) == 0 else {
                    out.refusal = MCPRequest.Refusal(message: "an MCP routing header is repeated")
                    continue
                }
                seen |= 1 << which
                let value = String(decoding: UnsafeRawBufferPointer(rebasing: p[Int(f.valueStart)..<Int(f.valueEnd)]), as: UTF8.self)
                switch which {
                case 0: out.method = value
                case 1: out.name = value
                default: out.protocolVersion = value
                }
            }
        }
        return out
    }

    // MARK: - tools/list filtering

    /// A `tools/list` answer to filter: JSON is held until it is whole, SSE goes event by event.
    /// Anything else (an error status aside) cannot be filtered and is refused rather than relayed.
    func startToolsListFilter(_ response: ResponseHead, outgoing: inout OutgoingHead) -> Bool {
        guard filtersToolsList, response.status == 200, let tenant = tenant?.tenant, let policy = tenant.mcp, let principal else { return true }
        let encoded = response.first(.contentEncoding).map { response.value($0).lowercased() != "identity" } ?? false
        guard !encoded,
            let filter = MCPToolsListFilter(contentType: response.first(.contentType).map { response.value($0) }, allows: { name in
                policy.decide(tool: name, principal: principal).isAllowed
            })
        else {
            return false
        }
        toolsFilter = filter
        // JSON: its length changes, so the head waits for the whole body (`sendResponseHead`).
        // SSE: events are rewritten as they pass, so the length is unknown.
        if filter.mode == .eventStream {
            if case .length = outgoing.framing { outgoing.framing = head.isHTTP10 ? .untilClose : .chunked }
            if case .untilClose = outgoing.framing { closeAfter = true }
        }
        return true
    }

    /// Response body bytes through the filter: what may go to the client now, or nil when the
    /// filter refused (the exchange has then ended).
    func filterToolsList(_ data: ByteBuffer) -> ByteBuffer? {
        guard let filter = toolsFilter else { return data }
        do {
            switch filter.mode {
            case .json:
                try data.withUnsafeReadableBytes { try filter.append($0) }
                return ByteBuffer()
            case .eventStream:
                let out = try data.withUnsafeReadableBytes { try filter.feedEvents($0) }
                return ByteBuffer(bytes: out)
            }
        } catch {
            toolsListUnfilterable("\(error)")
            return nil
        }
    }

    /// The end of a filtered answer: a held JSON body is rewritten and sent with its head.
    /// False when the filter refused (the exchange has then ended).
    func finishToolsList() -> Bool {
        guard let filter = toolsFilter else { return true }
        toolsFilter = nil
        switch filter.mode {
        case .eventStream:
            do {
                let rest = try filter.finishEvents()
                if !rest.isEmpty {
                    bytesOut += rest.count
                    client?.writeBody(ByteBuffer(bytes: rest))
                }
            } catch {
                toolsFilter = filter
                toolsListUnfilterable("\(error)")
                return false
            }
        case .json:
            guard var outgoing = toolsFilterHead else { return true }
            toolsFilterHead = nil
            let body: [UInt8]
            do {
                body = try filter.finishJSON()
            } catch {
                toolsFilter = filter
                toolsListUnfilterable("\(error)")
                return false
            }
            outgoing.framing = .length(body.count)
            bytesOut += body.count
            client?.writeHead(outgoing, body: body.isEmpty ? nil : ByteBuffer(bytes: body))
        }
        if filter.removed > 0, var audit = mcpAudit {
            audit.rule = nil
            mcpAudit = audit
            mcpToolsRemoved = filter.removed
        }
        return true
    }

    /// A `tools/list` answer in a form that cannot be filtered (another content type, a content
    /// coding): 502, nothing of it relayed.
    func refuseUnfilterableToolsList() {
        runtime.logger.warning("tools/list answer could not be filtered", metadata: ["reason": "content type or coding", "request_id": "\(requestID.string)"])
        respondLocally(.error(.badGateway, "bad_gateway", "the tools/list answer could not be filtered"), close: !requestEnded, reason: "tools_list_unfilterable")
    }

    /// A tools/list answer that cannot be filtered is never relayed: 502 when nothing was sent
    /// yet, else the stream is cut.
    private func toolsListUnfilterable(_ why: String) {
        runtime.logger.warning("tools/list answer could not be filtered", metadata: ["reason": "\(why)", "request_id": "\(requestID.string)"])
        let sentHead = toolsFilterHead == nil && toolsFilter?.mode == .eventStream
        toolsFilter = nil
        toolsFilterHead = nil
        if sentHead {
            if let upstream {
                upstream.link.delegate = nil
                upstream.channel.close(promise: nil)
                self.upstream = nil
            }
            abortClient(reason: "tools_list_unfilterable")
            return
        }
        responseHeadSent = false
        respondLocally(.error(.badGateway, "bad_gateway", "the tools/list answer could not be filtered"), close: !requestEnded, reason: "tools_list_unfilterable")
    }
}
