import GatehouseCore

/// One MCP URL-mode elicitation found in an upstream response (docs/sessions-and-oauth.md "Elicitations"): the flow's session
/// id and the authorization URL the user is sent to.
public struct Elicitation: Sendable, Hashable {
    public var elicitationID: String
    public var url: String

    public init(elicitationID: String, url: String) {
        self.elicitationID = elicitationID
        self.url = url
    }
}

/// Spots MCP URL-mode elicitations in a response as it streams past, without holding the stream
/// back (bytes are copied aside, never delayed), in both protocol versions:
///
/// - 2025-11-25: the JSON-RPC error `-32042` carrying `data.elicitations[].elicitationId` and `url`;
/// - 2026-07-28: a result with `resultType: "input_required"` whose `inputRequests` map an id to
///   an `elicitation/create` request in URL mode (`params.mode: "url"`, `params.url`): the map's
///   key is the elicitation's id.
///
/// - `application/json`: a bounded copy of the body (≤ `maxDocumentBytes`; a bigger body is
///   given up silently) is parsed by `finish()`. Single response or batch array.
/// - `text/event-stream`: events are split as the SSE standard says (lines end in LF, CRLF or
///   CR, also across chunk boundaries; a blank line ends an event; `data:` lines are joined),
///   and each event's data is parsed on its own. An event over `maxDocumentBytes` is skipped.
/// - anything else (including a body with a `Content-Encoding`: pass `nil`): ignored.
///
/// One scanner per response, fed from one event loop; not `Sendable`. Hostile bytes cost
/// bounded memory and never crash: parsing is `JSONParser`'s, with its depth limit.
public final class ElicitationScanner {
    /// The largest JSON body, or SSE event, that is looked at.
    public static let maxDocumentBytes = 256 * 1024
    /// More elicitations than this in one response are ignored (each becomes a stored flow).
    static let maxResults = 16

    private enum Mode {
        case json
        case eventStream
        case ignored
    }

    private let mode: Mode
    private var found: [Elicitation] = []
    private var reported = 0
    private var finished = false

    // application/json
    private var body: [UInt8] = []
    private var gaveUp = false

    // text/event-stream
    private var line: [UInt8] = []
    private var lineTooLong = false
    private var isFirstLine = true
    private var lastWasCR = false
    private var data: [UInt8] = []
    private var hasData = false
    private var eventTooLarge = false

    /// `contentType` is the response's `Content-Type` (parameters such as `charset` are ignored).
    public init(contentType: String?) {
        let media = contentType.map { value in
            String(value.prefix { $0 != ";" }).trimmingASCIIWhitespace().lowercased()
        }
        switch media {
        case "application/json": mode = .json
        case "text/event-stream": mode = .eventStream
        default: mode = .ignored
        }
    }

    /// Whether feeding this scanner can find anything (the caller may skip it otherwise).
    public var isActive: Bool { mode != .ignored }

    /// The next chunk of the body, as it is forwarded (`ByteBufferView`, `[UInt8]`, …).
    public func feed<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        guard !finished, mode != .ignored, !bytes.isEmpty else { return }
        let handled: Void? = bytes.withContiguousStorageIfAvailable { take($0) }
        if handled == nil { Array(bytes).withUnsafeBufferPointer { take($0) } }
    }

    /// Elicitations found since the last `drain()` (for SSE: in the events completed so far).
    public func drain() -> [Elicitation] {
        guard reported < found.count else { return [] }
        let fresh = Array(found[reported...])
        reported = found.count
        return fresh
    }

    /// Ends the body: parses a JSON body and returns whatever has not been drained yet. An SSE
    /// event left unterminated at the end is dropped, as an SSE client would drop it.
    public func finish() -> [Elicitation] {
        guard !finished else { return drain() }
        finished = true
        if mode == .json, !gaveUp {
            var document = body[...]
            if document.starts(with: Self.byteOrderMark) { document = document.dropFirst(3) }
            scan(document)
        }
        body = []
        line = []
        data = []
        return drain()
    }

    private func take(_ chunk: UnsafeBufferPointer<UInt8>) {
        switch mode {
        case .json:
            guard !gaveUp else { return }
            guard body.count + chunk.count <= Self.maxDocumentBytes else {
                gaveUp = true
                body = []
                return
            }
            body.append(contentsOf: chunk)
        case .eventStream:
            splitLines(chunk)
        case .ignored:
            return
        }
    }

    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]
    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")
    /// `data: ` plus an event's worth of data: a longer line can only belong to an oversized event.
    private static let maxLineBytes = maxDocumentBytes + 16

    private func splitLines(_ chunk: UnsafeBufferPointer<UInt8>) {
        var i = 0
        let n = chunk.count
        while i < n {
            if lastWasCR {
                lastWasCR = false
                // CRLF is one line ending, even when split across two chunks.
                if chunk[i] == Self.lf {
                    i += 1
                    continue
                }
            }
            var j = i
            while j < n, chunk[j] != Self.cr, chunk[j] != Self.lf { j += 1 }
            if j > i {
                if line.count + (j - i) <= Self.maxLineBytes {
                    line.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[i..<j]))
                } else {
                    lineTooLong = true
                }
            }
            guard j < n else { return }
            lastWasCR = chunk[j] == Self.cr
            endLine()
            i = j + 1
        }
    }

    private func endLine() {
        defer {
            line.removeAll(keepingCapacity: line.count <= 4096)
            lineTooLong = false
            isFirstLine = false
        }
        if isFirstLine, line.starts(with: Self.byteOrderMark) { line.removeFirst(3) }
        if line.isEmpty, !lineTooLong {
            dispatchEvent()
            return
        }
        guard !lineTooLong else {
            eventTooLarge = true
            return
        }
        let colon = line.firstIndex(of: UInt8(ascii: ":"))
        // A line starting with a colon is a comment; only `data` matters here.
        guard colon != 0, line[..<(colon ?? line.endIndex)].elementsEqual("data".utf8), !eventTooLarge else { return }
        var valueStart = colon.map { $0 + 1 } ?? line.endIndex
        if valueStart < line.endIndex, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = line[valueStart...]
        guard data.count + value.count + 1 <= Self.maxDocumentBytes else {
            eventTooLarge = true
            data = []
            return
        }
        if hasData { data.append(Self.lf) }
        data.append(contentsOf: value)
        hasData = true
    }

    private func dispatchEvent() {
        if hasData, !eventTooLarge { scan(data[...]) }
        data.removeAll(keepingCapacity: data.count <= 4096)
        hasData = false
        eventTooLarge = false
    }

    /// The error code and the 2026 result type, as they appear in the JSON text: documents with
    /// neither are not parsed, which keeps the cost of ordinary traffic (every SSE token chunk)
    /// to a byte search.
    private static let marker = Array("-32042".utf8)
    private static let inputRequiredMarker = Array("input_required".utf8)

    private func scan(_ document: ArraySlice<UInt8>) {
        guard found.count < Self.maxResults, Self.contains(document, Self.marker) || Self.contains(document, Self.inputRequiredMarker),
            let value = try? JSONParser.parse(document, limits: JSONParser.Limits(maxDepth: 32, maxBytes: Self.maxDocumentBytes))
        else { return }
        if case .array(let batch) = value {
            for message in batch { collect(message) }
        } else {
            collect(value)
        }
    }

    private func collect(_ message: JSONValue) {
        if let result = message["result"], result["resultType"]?.stringValue == "input_required",
            case .object(let requests)? = result["inputRequests"]
        {
            for (id, request) in requests.sorted(by: { $0.key < $1.key }) where found.count < Self.maxResults {
                guard request["method"]?.stringValue == "elicitation/create", let params = request["params"],
                    params["mode"]?.stringValue == "url", let url = params["url"]?.stringValue, !id.isEmpty,
                    let parsed = ParsedURL(url), parsed.scheme == "https" || parsed.scheme == "http"
                else { continue }
                found.append(Elicitation(elicitationID: id, url: url))
            }
            return
        }
        guard let error = message["error"], error["code"]?.doubleValue == -32042,
            let list = error["data"]?["elicitations"]?.arrayValue
        else { return }
        for item in list where found.count < Self.maxResults {
            guard let id = item["elicitationId"]?.stringValue, let url = item["url"]?.stringValue,
                // A URL-mode entry, if the mode is stated at all (form mode has no URL to bind).
                item["mode"] == nil || item["mode"]?.stringValue == "url",
                let parsed = ParsedURL(url), parsed.scheme == "https" || parsed.scheme == "http"
            else { continue }
            found.append(Elicitation(elicitationID: id, url: url))
        }
    }

    private static func contains(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, haystack.count >= needle.count else { return false }
        var i = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while i <= last {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}

// Per-response state fed from one event loop: deliberately not shareable.
@available(*, unavailable)
extension ElicitationScanner: Sendable {}

extension String {
    fileprivate func trimmingASCIIWhitespace() -> String {
        let bytes = Array(utf8)
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
