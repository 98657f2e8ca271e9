import GatehouseCore

/// Removes the tools a caller may not call from a `tools/list` result (`mcp.filter_tools_list`,
/// docs/mcp.md "Filtering tools/list"), in a JSON body or in a server-sent-event stream.
///
/// - `application/json`: the body is held (at most `MCPLimits.maxToolsListBytes`) and rewritten
///   whole once it is complete, so that its length is known.
/// - `text/event-stream`: events are split as the SSE standard says and rewritten one by one as
///   they complete; an event that is not a `tools/list` result goes through byte for byte, a
///   rewritten one as its other lines plus one `data:` line.
///
/// It fails closed: a body or an event too large to read, or one that is not JSON, is an error
/// for the caller to turn into a refusal; an unfiltered list is never relayed.
final class MCPToolsListFilter {
    enum Mode {
        case json
        case eventStream
    }

    enum Failure: Error {
        case tooLarge
        case notJSON
    }

    let mode: Mode
    private let allows: (String) -> Bool
    /// Tools removed so far (for the log).
    private(set) var removed = 0

    // application/json
    private var body: [UInt8] = []

    // text/event-stream: the raw bytes of the event in progress, and its lines so far.
    private var eventRaw: [UInt8] = []
    private var line: [UInt8] = []
    private var lines: [[UInt8]] = []
    private var lastWasCR = false
    /// A blank line ended by CR: the event ends once the next byte shows whether an LF follows.
    private var endPending = false

    /// Nil for a content type that cannot carry a `tools/list` result (or an unknown one).
    init?(contentType: String?, allows: @escaping (String) -> Bool) {
        let media = contentType.map { String($0.prefix { $0 != ";" }).trimmingSpaces().lowercased() }
        switch media {
        case "application/json": mode = .json
        case "text/event-stream": mode = .eventStream
        default: return nil
        }
        self.allows = allows
    }

    // MARK: - JSON

    func append(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        guard body.count + bytes.count <= MCPLimits.maxToolsListBytes else { throw .tooLarge }
        body.append(contentsOf: bytes)
    }

    /// The whole body, rewritten.
    func finishJSON() throws(Failure) -> [UInt8] {
        defer { body = [] }
        return try rewrite(body)
    }

    // MARK: - Server-sent events

    /// What can be sent of the stream so far: every event completed by these bytes, rewritten.
    func feedEvents(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> [UInt8] {
        var out: [UInt8] = []
        for b in bytes {
            if lastWasCR {
                lastWasCR = false
                if b == UInt8(ascii: "\n") {
                    // CRLF is one line ending: the LF belongs to the line (or event) the CR ended.
                    eventRaw.append(b)
                    if endPending {
                        endPending = false
                        try endEvent(into: &out)
                    }
                    continue
                }
                if endPending {
                    endPending = false
                    try endEvent(into: &out)
                }
            }
            guard eventRaw.count < MCPLimits.maxToolsListBytes else { throw .tooLarge }
            eventRaw.append(b)
            if b == UInt8(ascii: "\r") || b == UInt8(ascii: "\n") {
                let ended = line.isEmpty
                if !ended {
                    lines.append(line)
                    line.removeAll(keepingCapacity: true)
                }
                if b == UInt8(ascii: "\r") {
                    // Whether an LF follows is known with the next byte.
                    lastWasCR = true
                    endPending = ended
                } else if ended {
                    try endEvent(into: &out)
                }
            } else {
                line.append(b)
            }
        }
        return out
    }

    /// The end of the stream: an event ended by a lone CR is sent; one left unterminated is
    /// dropped (as an SSE client drops it).
    func finishEvents() throws(Failure) -> [UInt8] {
        var out: [UInt8] = []
        if endPending {
            endPending = false
            try endEvent(into: &out)
        }
        eventRaw = []
        lines = []
        line = []
        return out
    }

    private func endEvent(into out: inout [UInt8]) throws(Failure) {
        defer {
            eventRaw.removeAll(keepingCapacity: eventRaw.count <= 4096)
            lines.removeAll(keepingCapacity: true)
        }
        var data: [UInt8] = []
        var hasData = false
        var others: [[UInt8]] = []
        for l in lines {
            let colon = l.firstIndex(of: UInt8(ascii: ":"))
            let field = l[..<(colon ?? l.endIndex)]
            if colon != 0, field.elementsEqual("data".utf8) {
                var start = colon.map { $0 + 1 } ?? l.endIndex
                if start < l.endIndex, l[start] == UInt8(ascii: " ") { start += 1 }
                if hasData { data.append(UInt8(ascii: "\n")) }
                data.append(contentsOf: l[start...])
                hasData = true
            } else {
                others.append(l)
            }
        }
        let rewritten: [UInt8]?
        do {
            rewritten = hasData ? try rewriteIfToolsList(data) : nil
        } catch {
            throw .notJSON
        }
        guard let rewritten else {
            out.append(contentsOf: eventRaw)
            return
        }
        for l in others {
            out.append(contentsOf: l)
            out.append(UInt8(ascii: "\n"))
        }
        out.append(contentsOf: "data: ".utf8)
        out.append(contentsOf: rewritten)
        out.append(contentsOf: "\n\n".utf8)
    }

    /// An event's data: rewritten when it is a `tools/list` result, nil when it is left as it is.
    /// Data that is not JSON is left as it is (SSE carries other things too).
    private func rewriteIfToolsList(_ data: [UInt8]) throws -> [UInt8]? {
        guard let value = try? JSONParser.parse(data, limits: JSONParser.Limits(maxDepth: 64, maxBytes: MCPLimits.maxToolsListBytes)) else {
            // Not JSON Gatehouse can read: fine for data that cannot be a tool list, refused for
            // data that might be one (a lenient client could read tools from it).
            if Self.contains(data, Self.toolsKey) { throw Failure.notJSON }
            return nil
        }
        var changed = false
        let filtered = filter(value, changed: &changed)
        return changed ? Array(filtered.compactText.utf8) : nil
    }

    private static let toolsKey = Array("\"tools\"".utf8)

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    // MARK: - The rewrite

    private func rewrite(_ document: [UInt8]) throws(Failure) -> [UInt8] {
        let value: JSONValue
        do {
            value = try JSONParser.parse(document, limits: JSONParser.Limits(maxDepth: 64, maxBytes: MCPLimits.maxToolsListBytes))
        } catch {
            throw .notJSON
        }
        var changed = false
        let filtered = filter(value, changed: &changed)
        return changed ? Array(filtered.compactText.utf8) : document
    }

    /// A JSON-RPC message (or a batch of them) without the tools the caller may not call.
    private func filter(_ value: JSONValue, changed: inout Bool) -> JSONValue {
        if case .array(let batch) = value {
            return .array(batch.map { filter($0, changed: &changed) })
        }
        guard case .object(var message) = value, case .object(var result)? = message["result"],
            case .array(let tools)? = result["tools"]
        else { return value }
        let kept = tools.filter { tool in
            // A tool without a name cannot be called by name: it goes too.
            guard let name = tool["name"]?.stringValue else { return false }
            return allows(name)
        }
        guard kept.count != tools.count else { return value }
        removed += tools.count - kept.count
        changed = true
        result["tools"] = .array(kept)
        message["result"] = .object(result)
        return .object(message)
    }
}
