import GatehouseCore
import NIOCore
import Testing

@testable import GatehouseProxy

/// The MCP body reader (docs/mcp.md "What Gatehouse reads") and the tools/list filter, without sockets.
@Suite struct MCPRequestTests {
    static func parse(_ text: String) -> Result<MCPRequest, MCPRequest.Refusal> { MCPRequest.parse(Array(text.utf8)) }

    @Test func requestsNotificationsResponsesAndBatchesAreRead() throws {
        let call = try Self.parse(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"h":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#).get()
        #expect(!call.isBatch && call.messages[0].kind == .request && call.messages[0].name == "echo")
        #expect(call.messages[0].arguments?["h"] == .string("x") && call.protocolVersion(header: nil) == "2026-07-28")
        #expect(call.protocolVersion(header: "2025-11-25") == "2025-11-25", "the header wins")
        let read = try Self.parse(#"{"jsonrpc":"2.0","id":"a","method":"resources/read","params":{"uri":"doc://x"}}"#).get()
        #expect(read.messages[0].name == "doc://x")
        let initialize = try Self.parse(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}"#).get()
        #expect(initialize.protocolVersion(header: nil) == "2025-11-25")
        #expect(try Self.parse(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).get().messages[0].kind == .notification)
        #expect(try Self.parse(#"{"jsonrpc":"2.0","id":3,"result":{}}"#).get().messages[0].kind == .response)
        let batch = try Self.parse(#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"}]"#).get()
        #expect(batch.isBatch && batch.messages.count == 2)
    }

    @Test func anythingElseIsRefused() {
        let bad = [
            "", "not json", "[]", "3", #"{"id":1,"method":"ping"}"#, #"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            #"{"jsonrpc":"2.0","id":1,"method":7}"#, #"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
            #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#, #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":""}}"#,
            #"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"name":"x"}}"#, #"{"jsonrpc":"2.0","id":1,"method":"ping","params":3}"#,
            #"{"jsonrpc":"2.0","id":1}"#, #"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#,
            // Duplicate keys: the body could be read two ways.
            #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#,
            #"{"jsonrpc":"2.0","id":1,"method":"ping"} trailing"#,
            "[" + Array(repeating: #"{"jsonrpc":"2.0","method":"n"}"#, count: 65).joined(separator: ",") + "]",
        ]
        for text in bad {
            if case .success = Self.parse(text) { Issue.record("accepted: \(text)") }
        }
    }

    @Test func routingHeadersMustSayWhatTheBodySays() throws {
        let call = try Self.parse(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"héllo"}}"#).get()
        #expect(call.checkHeaders(method: nil, name: nil) == nil)
        #expect(call.checkHeaders(method: "tools/call", name: "=?base64?aMOpbGxv?=") == nil)
        #expect(call.checkHeaders(method: "tools/list", name: nil) != nil)
        #expect(call.checkHeaders(method: "tools/call", name: "hello") != nil)
        #expect(call.checkHeaders(method: nil, name: "=?base64?!!!?=") != nil)
        let batch = try Self.parse(#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).get()
        #expect(batch.checkHeaders(method: "ping", name: nil) != nil, "headers cannot describe a batch")
        let list = try Self.parse(#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).get()
        #expect(list.checkHeaders(method: nil, name: "x") != nil, "a name where the body has none")
    }

    @Test func headerValuesAreEncodedAsMCPDoes() {
        for text in ["doc-7", "a b/c?d=1", " padded", "héllo wörld", "tab\there", "x"] {
            let encoded = MCPRequest.encodeHeaderValue(text)
            #expect(MCPRequest.decodeHeaderValue(encoded) == text, "\(text) -> \(encoded)")
        }
        #expect(MCPRequest.encodeHeaderValue("héllo wörld") == "=?base64?aMOpbGxvIHfDtnJsZA==?=")
        #expect(MCPRequest.encodeHeaderValue("a b/c?d=1") == "a b/c?d=1")
        #expect(MCPRequest.argumentText(.number("42")) == "42" && MCPRequest.argumentText(.bool(true)) == "true")
        #expect(MCPRequest.argumentText(.object([:])) == nil)
    }

    // MARK: - tools/list filtering

    static let allow: @Sendable (String) -> Bool = { !$0.hasPrefix("admin_") }
    static let list = #"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"echo","inputSchema":{}},{"name":"admin_reset"},{"description":"nameless"}],"ttlMs":0}}"#

    @Test func aJSONListLosesTheToolsTheCallerMayNotCall() throws {
        let filter = try #require(MCPToolsListFilter(contentType: "application/json; charset=utf-8", allows: Self.allow))
        let bytes = Array(Self.list.utf8)
        try bytes[0..<40].withUnsafeBytes { try filter.append($0) }
        try bytes[40...].withUnsafeBytes { try filter.append($0) }
        let out = try JSONParser.parse(try filter.finishJSON())
        #expect(out["result"]?["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["echo"])
        #expect(out["result"]?["ttlMs"] == .number("0") && out["id"] == .number("2") && filter.removed == 2)
        // Not JSON: refused, never relayed.
        let broken = try #require(MCPToolsListFilter(contentType: "application/json", allows: Self.allow))
        try Array("{\"result\":{\"tools\":[".utf8).withUnsafeBytes { try broken.append($0) }
        #expect(throws: MCPToolsListFilter.Failure.self) { try broken.finishJSON() }
        #expect(MCPToolsListFilter(contentType: "text/html", allows: Self.allow) == nil)
    }

    @Test func anEventStreamIsFilteredEventByEventAcrossAnySplit() throws {
        let other = "event: message\r\nid: 1\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\n\r\n"
        let stream = ": ping\n\n" + other + "event: message\ndata: " + Self.list + "\n\n"
        let bytes = Array(stream.utf8)
        for cut in [1, 7, 20, 61, bytes.count - 3] {
            let filter = try #require(MCPToolsListFilter(contentType: "text/event-stream", allows: Self.allow))
            var out: [UInt8] = []
            out += try bytes[0..<cut].withUnsafeBytes { try filter.feedEvents($0) }
            out += try bytes[cut...].withUnsafeBytes { try filter.feedEvents($0) }
            let text = String(decoding: out, as: UTF8.self)
            #expect(text.hasPrefix(": ping\n\n" + other), "untouched events go through byte for byte: \(text)")
            #expect(!text.contains("admin_reset") && text.contains(#""name":"echo""#), "\(text)")
            #expect(text.hasSuffix("\n\n") && text.contains("event: message\ndata: {"))
        }
        // An unterminated event at the end is dropped; a tools list that is not JSON is refused.
        let filter = try #require(MCPToolsListFilter(contentType: "text/event-stream", allows: Self.allow))
        let partial = try Array("data: {\"result\":{\"tools\":[{\"name\":\"admin_x\"}]}}".utf8).withUnsafeBytes { try filter.feedEvents($0) }
        #expect(partial.isEmpty)
        #expect(throws: MCPToolsListFilter.Failure.self) {
            _ = try Array("data: {\"result\":{\"tools\":[}\n\n".utf8).withUnsafeBytes { try filter.feedEvents($0) }
        }
    }
}
