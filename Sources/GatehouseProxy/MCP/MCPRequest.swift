import GatehouseCore

/// What Gatehouse reads of an MCP POST body (docs/mcp.md "What Gatehouse reads"): its JSON-RPC
/// messages, each with its method and the name it acts on, parsed once, strictly (duplicate keys,
/// bad UTF-8 or trailing bytes refuse the body: the policy and the MCP server must never read two
/// different requests out of one body). Both protocol versions: 2025-11-25 and 2026-07-28.
struct MCPRequest {
    enum Kind: Equatable {
        case request
        case notification
        /// A client's answer to a server's request (2025-11-25: posted back on the same endpoint).
        case response
    }

    struct Message {
        var kind: Kind
        var method: String?
        /// `params.name` (`tools/call`, `prompts/get`) or `params.uri` (`resources/read`): what
        /// `Mcp-Name` names.
        var name: String?
        /// `params.arguments` of a `tools/call`.
        var arguments: JSONValue?
        /// `params._meta["io.modelcontextprotocol/protocolVersion"]` (2026-07-28), or an
        /// `initialize`'s `params.protocolVersion`.
        var protocolVersion: String?
    }

    var messages: [Message]
    var isBatch: Bool

    /// Why a body is refused (400 `invalid_request`); the text is for the client and the log.
    struct Refusal: Error, Equatable {
        var message: String
    }

    /// Methods whose `Mcp-Name` is `params.name`, and the one whose is `params.uri`.
    static let namedByName: Set<String> = ["tools/call", "prompts/get"]
    static let namedByURI = "resources/read"

    static func parse(_ body: [UInt8]) -> Result<MCPRequest, Refusal> {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body, limits: JSONParser.Limits(maxDepth: 64, maxBytes: MCPLimits.maxBodyBytes))
        } catch {
            return .failure(Refusal(message: "the body is not a JSON document (\(error.message) at \(error.offset))"))
        }
        switch value {
        case .array(let items):
            guard !items.isEmpty else { return .failure(Refusal(message: "an empty batch")) }
            guard items.count <= MCPLimits.maxBatchMessages else {
                return .failure(Refusal(message: "a batch of more than \(MCPLimits.maxBatchMessages) messages"))
            }
            var messages: [Message] = []
            for item in items {
                switch message(item) {
                case .success(let m): messages.append(m)
                case .failure(let r): return .failure(r)
                }
            }
            return .success(MCPRequest(messages: messages, isBatch: true))
        default:
            return message(value).map { MCPRequest(messages: [$0], isBatch: false) }
        }
    }

    private static func message(_ value: JSONValue) -> Result<Message, Refusal> {
        guard case .object(let object) = value else { return .failure(Refusal(message: "not a JSON-RPC message object")) }
        guard object["jsonrpc"] == .string("2.0") else { return .failure(Refusal(message: "not JSON-RPC 2.0")) }
        let id = object["id"]
        if let id {
            switch id {
            case .string, .number: break
            case .null where object["method"] == nil: break
            default: return .failure(Refusal(message: "a JSON-RPC id must be a string or a number"))
            }
        }
        guard let methodValue = object["method"] else {
            // A response: an id and exactly one of result and error.
            guard id != nil, (object["result"] == nil) != (object["error"] == nil) else {
                return .failure(Refusal(message: "not a JSON-RPC request, notification or response"))
            }
            return .success(Message(kind: .response))
        }
        guard case .string(let method) = methodValue, !method.isEmpty else {
            return .failure(Refusal(message: "the JSON-RPC method must be a string"))
        }
        guard object["result"] == nil, object["error"] == nil else { return .failure(Refusal(message: "a request with a result or an error")) }
        let params = object["params"]
        if let params {
            switch params {
            case .object, .array: break
            default: return .failure(Refusal(message: "params must be an object or an array"))
            }
        }
        var m = Message(kind: id == nil ? .notification : .request, method: method)
        if namedByName.contains(method) {
            guard case .string(let name)? = params?["name"], !name.isEmpty else {
                return .failure(Refusal(message: "\(method) without params.name"))
            }
            m.name = name
        } else if method == namedByURI {
            guard case .string(let uri)? = params?["uri"], !uri.isEmpty else {
                return .failure(Refusal(message: "\(method) without params.uri"))
            }
            m.name = uri
        }
        if method == "tools/call" { m.arguments = params?["arguments"] }
        if method == "initialize" {
            m.protocolVersion = params?["protocolVersion"]?.stringValue
        } else {
            m.protocolVersion = params?["_meta"]?["io.modelcontextprotocol/protocolVersion"]?.stringValue
        }
        return .success(m)
    }

    /// The routing headers of 2026-07-28, when sent, must say what the body says: a client must
    /// not be able to show the policy one tool and call another.
    func checkHeaders(method: String?, name: String?) -> Refusal? {
        guard method != nil || name != nil else { return nil }
        guard !isBatch, let m = messages.first else {
            return Refusal(message: "Mcp-Method and Mcp-Name cannot describe a batch")
        }
        if let method, method != m.method { return Refusal(message: "Mcp-Method does not match the body's method") }
        if let name {
            guard let decoded = Self.decodeHeaderValue(name) else { return Refusal(message: "Mcp-Name is not a valid header value") }
            guard decoded == m.name else { return Refusal(message: "Mcp-Name does not match the body's name") }
        }
        return nil
    }

    /// A header value as MCP encodes it: printable ASCII as is, anything else as
    /// `=?base64?<standard base64 of the UTF-8>?=`.
    static func decodeHeaderValue(_ value: String) -> String? {
        guard value.hasPrefix("=?base64?"), value.hasSuffix("?="), value.utf8.count >= 11 else { return value }
        let inner = value.dropFirst(9).dropLast(2)
        var url = ""
        for c in inner {
            switch c {
            case "+": url.append("-")
            case "/": url.append("_")
            case "=": continue
            default: url.append(c)
            }
        }
        guard let bytes = Base64URL.decode(url) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// A value as an MCP client puts it in a header: printable ASCII without whitespace at either
    /// end as it is, anything else `=?base64?…?=`.
    static func encodeHeaderValue(_ value: String) -> String {
        let bytes = Array(value.utf8)
        let plain = !bytes.isEmpty && bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F } && bytes.first != 0x20 && bytes.last != 0x20
        if plain { return value }
        var b64 = String(Base64URL.encode(bytes).map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        while b64.utf8.count % 4 != 0 { b64.append("=") }
        return "=?base64?" + b64 + "?="
    }

    /// A tool argument as the text its `Mcp-Param-<Name>` header carries: strings as they are,
    /// numbers and booleans as JSON text; nil for anything else.
    static func argumentText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let s): return s
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        default: return nil
        }
    }

    /// The protocol version this request speaks: the `MCP-Protocol-Version` header, else what
    /// the body says.
    func protocolVersion(header: String?) -> String? {
        header ?? messages.lazy.compactMap(\.protocolVersion).first
    }
}

enum MCPLimits {
    /// The largest MCP POST body read (a larger one is answered 413).
    static let maxBodyBytes = 1 << 20
    static let maxBatchMessages = 64
    /// The largest `tools/list` response (or SSE event) filtered; beyond it the answer is 502:
    /// an unfiltered list is never relayed.
    static let maxToolsListBytes = 4 << 20
}
