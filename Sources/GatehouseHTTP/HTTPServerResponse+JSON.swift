import GatehouseCore
import NIOHTTP1

extension HTTPServerResponse {
    /// A compact JSON body with `Content-Type: application/json`.
    public static func json(status: HTTPResponseStatus = .ok, _ value: JSONValue, headers: HTTPHeaders = [:]) -> HTTPServerResponse {
        var h = headers
        h.replaceOrAdd(name: "Content-Type", value: "application/json")
        h.replaceOrAdd(name: "Cache-Control", value: "no-store")
        return HTTPServerResponse(status: status, headers: h, body: Array(value.compactText.utf8))
    }

    /// The standard error body (docs/status-codes.md "Error body"): `{"error": code, "error_description": text}`.
    /// The description is shown to clients: it must never hold a token.
    public static func error(
        status: HTTPResponseStatus, code: String, description: String, headers: HTTPHeaders = [:]
    ) -> HTTPServerResponse {
        json(status: status, .object(["error": .string(code), "error_description": .string(description)]), headers: headers)
    }

    /// A plain-text body.
    public static func text(
        status: HTTPResponseStatus = .ok, _ text: String, contentType: String = "text/plain; charset=utf-8",
        headers: HTTPHeaders = [:]
    ) -> HTTPServerResponse {
        var h = headers
        h.replaceOrAdd(name: "Content-Type", value: contentType)
        return HTTPServerResponse(status: status, headers: h, body: Array(text.utf8))
    }
}
