import GatehouseCore
import GatehouseSessions
import NIOCore
import Tracing

extension ProxyExchange {
    func refuse(_ refusal: Admission.Refusal, close: Bool) {
        respondLocally(
            .error(.init(statusCode: refusal.status), refusal.code, refusal.message), close: close, reason: refusal.reason)
    }

    /// Gatehouse answers the request itself (errors map to HTTP in `LocalResponse`).
    func respondLocally(_ response: LocalResponse, close: Bool, reason: String? = nil) {
        guard stage != .done, !responseHeadSent else { return }
        if let upstream {
            upstream.link.delegate = nil
            upstream.channel.close(promise: nil)
            self.upstream = nil
        }
        status = Int(response.status.code)
        self.reason = reason ?? response.reason
        responseHeadSent = true
        responseEnded = true
        if close { closeAfter = true }
        var extra: [(String, String)] = []
        extra.reserveCapacity(response.headers.count + 1)
        for (name, value) in response.headers where name.lowercased() != "content-length" && name.lowercased() != "connection" {
            extra.append((name, value))
        }
        bytesOut = response.body.count
        let outgoing = OutgoingHead(
            status: status, upstream: nil, extra: extra, framing: .length(response.body.count), close: closeAfter, requestID: requestID)
        var body: ByteBuffer?
        if !response.body.isEmpty {
            var b = ByteBufferAllocator().buffer(capacity: response.body.count)
            b.writeBytes(response.body)
            body = b
        }
        guard let client else { return }
        client.writeHead(outgoing, body: body)
        client.writeEnd()
        if requestEnded || closeAfter {
            maybeFinish()
        } else {
            // The rest of the body is read and dropped; the connection may then serve another request.
            stage = .draining
            client.bodyWanted()
        }
    }

    /// Ends the request's spans: the server span gets what the request came to.
    func endTrace() {
        guard let trace else { return }
        self.trace = nil
        let error = reason ?? (status >= 500 ? "http_\(status)" : nil)
        trace.endVerify(error: "aborted")
        trace.endUpstream(error: error ?? "aborted")
        let span = trace.server
        guard trace.recording else {
            span.end()
            return
        }
        // A bounded set of names: one of Gatehouse's endpoints, or the tenant's path prefix.
        let route = localRoute ?? (oauthBasePrefix.isEmpty ? "/*" : oauthBasePrefix + "/*")
        span.operationName = head.methodName + " " + route
        var attributes = span.attributes
        attributes["http.request.method"] = head.methodName
        attributes["http.route"] = route
        attributes["url.path"] = Self.loggedPath(path)
        attributes["url.scheme"] = scheme
        attributes["network.protocol.version"] = isHTTP2 ? "2" : "1.1"
        if let host { attributes["server.address"] = Self.loggable(host) }
        if status > 0 { attributes["http.response.status_code"] = status }
        attributes["gatehouse.request_id"] = requestID.string
        if let tenant { attributes["gatehouse.tenant"] = tenant.tenant.id.rawValue }
        if let upstreamName { attributes["gatehouse.upstream"] = upstreamName }
        if let reason { attributes["gatehouse.reason"] = reason }
        if trace.tokenCached { attributes["gatehouse.token.cached"] = true }
        if trace.recordSubject, let principal { attributes["enduser.id"] = principal.subject }
        if let mcp = mcpAudit {
            if let method = mcp.method { attributes["gatehouse.mcp.method"] = Self.loggable(method) }
            if let tool = mcp.tool { attributes["gatehouse.mcp.tool"] = Self.loggable(tool) }
            attributes["gatehouse.mcp.outcome"] = mcp.outcome
        }
        span.attributes = attributes
        if status >= 500 || status == 0 {
            span.attributes["error.type"] = error ?? "aborted"
            span.setStatus(SpanStatus(code: .error))
        }
        span.end()
    }

    /// The access-log line (docs/observability.md "The access log"): never a token, cookie or query string.
    func writeAccessLine() {
        let now = SystemWallClock.now()
        let micros = max(0, Int(((monotonicSeconds() - startedAt) * 1_000_000).rounded()))
        let log = loop.log
        let tenantID = tenant?.tenant.id.rawValue
        let loggedPath = Self.loggedPath(path)
        let subject = principal?.subject
        // Fixed text and numbers fit in 400 bytes; the strings are bounded by their escapes.
        var strings = head.methodName.utf8.count + loggedPath.utf8.count
        strings += (tenantID?.utf8.count ?? 4) + (upstreamName?.utf8.count ?? 4)
        strings += (reason?.utf8.count ?? 0) + (subject?.utf8.count ?? 0)
        // MCP fields: the client's text, cut to a loggable length.
        let mcp = mcpAudit
        let mcpMethod = mcp?.method.map { Self.loggable($0) }
        let mcpTool = mcp?.tool.map { Self.loggable($0) }
        let mcpVersion = mcp?.protocolVersion.map { Self.loggable($0) }
        strings += (mcpMethod?.utf8.count ?? 0) + (mcpTool?.utf8.count ?? 0) + (mcpVersion?.utf8.count ?? 0)
        strings += (mcp?.outcome.utf8.count ?? 0) + (mcp?.rule?.utf8.count ?? 0)
        let traceID = trace?.traceID
        let maxBytes = 400 + 128 + (mcp == nil ? 0 : 192) + (traceID == nil ? 0 : 64) + BoundedWriter.jsonBound(strings)
        log.appendLine { buffer in
            buffer.writeBounded(maxBytes: maxBytes) { out in
                out.staticString("{\"time\":\"")
                log.writeTimestamp(now, into: &out)
                out.staticString("\",\"type\":\"access\",\"request_id\":\"")
                requestID.write(into: &out)
                out.staticString("\",\"tenant\":")
                if let tenantID { out.jsonString(tenantID) } else { out.staticString("null") }
                out.staticString(",\"method\":")
                out.jsonString(head.methodName)
                out.staticString(",\"path\":")
                out.jsonString(loggedPath)
                out.staticString(",\"status\":")
                out.decimal(status)
                out.staticString(",\"duration_ms\":")
                out.decimal(micros / 1000)
                out.byte(UInt8(ascii: "."))
                let fraction = micros % 1000
                out.byte(UInt8(0x30 + fraction / 100))
                out.byte(UInt8(0x30 + (fraction / 10) % 10))
                out.byte(UInt8(0x30 + fraction % 10))
                out.staticString(",\"upstream\":")
                if let u = upstreamName { out.jsonString(u) } else { out.staticString("null") }
                out.staticString(",\"bytes_in\":")
                out.decimal(bodyBytes)
                out.staticString(",\"bytes_out\":")
                out.decimal(bytesOut)
                if let r = reason {
                    out.staticString(",\"reason\":")
                    out.jsonString(r)
                }
                if let subject {
                    out.staticString(",\"sub\":")
                    out.jsonString(subject)
                }
                if let traceID {
                    out.staticString(",\"trace_id\":\"")
                    out.string(traceID)
                    out.byte(UInt8(ascii: "\""))
                }
                if let mcp {
                    out.staticString(",\"mcp_method\":")
                    if let mcpMethod { out.jsonString(mcpMethod) } else { out.staticString("null") }
                    if let mcpTool {
                        out.staticString(",\"mcp_tool\":")
                        out.jsonString(mcpTool)
                    }
                    out.staticString(",\"mcp_protocol_version\":")
                    if let mcpVersion { out.jsonString(mcpVersion) } else { out.staticString("null") }
                    out.staticString(",\"mcp_outcome\":")
                    out.jsonString(mcp.outcome)
                    if let rule = mcp.rule {
                        out.staticString(",\"mcp_rule\":")
                        out.jsonString(rule)
                    }
                    if mcpToolsRemoved > 0 {
                        out.staticString(",\"mcp_tools_removed\":")
                        out.decimal(mcpToolsRemoved)
                    }
                }
                out.staticString("}\n")
            }
        }
    }

    /// Client text in a log line: at most 256 bytes (whole characters).
    static func loggable(_ text: String) -> String {
        guard text.utf8.count > 256 else { return text }
        var out = ""
        for c in text {
            if out.utf8.count + c.utf8.count > 256 { break }
            out.append(c)
        }
        return out
    }

    /// The path as logged: a flow's start handle is a bearer secret (it mints that flow's
    /// browser cookie), so it is redacted, under a tenant prefix too.
    static func loggedPath(_ path: String) -> String {
        guard path.utf8.count > 2048 || path.utf8.contains(UInt8(ascii: ".")) else { return path }
        var p = path
        if let range = p.range(of: OAuthFlows.startPath) { p = String(p[..<range.upperBound]) + "<redacted>" }
        if p.utf8.count > 2048 { p = String(p.utf8.prefix(2048)) ?? "" }
        return p
    }
}
