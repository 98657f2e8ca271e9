import GatehouseCore
import GatehouseHTTP
import NIOHTTP1

extension EchoAgent {
    static func handle(_ request: HTTPServerRequest, state: State) async -> HTTPServerResponse {
        let options = state.options.withLock { $0 }
        let assertion = await state.verifier.check(
            request.headers.first(name: options.assertionHeader), jwksURL: options.assertionJWKSURL,
            issuer: options.assertionIssuer, now: options.clock())
        state.log.withLock {
            $0.append(RecordedRequest(
                method: request.method.rawValue, uri: request.uri, headers: request.headers, body: request.body,
                assertion: assertion))
            if $0.count > options.recordLimit { $0.removeFirst($0.count - options.recordLimit / 2) }
        }
        var response: HTTPServerResponse
        if let fixed = options.fixedResponse {
            response = HTTPServerResponse(status: fixed.status, headers: fixed.headers, body: fixed.body)
        } else if request.method == .GET, request.path == "/sse" {
            response = events(request, agent: options.name)
        } else {
            response = .json(describe(request, agent: options.name, assertion: assertion))
        }
        for (name, value) in options.responseHeaders { response.headers.replaceOrAdd(name: name, value: value) }
        return response
    }

    /// The echo. `Authorization` is reported as present or not, never echoed: the body of a demo
    /// answer ends up in terminals and logs.
    static func describe(_ request: HTTPServerRequest, agent: String, assertion: AssertionCheck) -> JSONValue {
        var headers: [String: JSONValue] = [:]
        var identity: [String: JSONValue] = [:]
        for (rawName, value) in request.headers {
            let name = rawName.lowercased()
            if name == "authorization" { continue }
            let joined = headers[name]?.stringValue.map { $0 + ", " + value } ?? value
            headers[name] = .string(joined)
            if name == "x-tenant-id" || name == "x-user-id" || name.hasPrefix("x-amzn-bedrock-agentcore-runtime-custom-") {
                identity[name] = .string(joined)
            }
        }
        var out: [String: JSONValue] = [
            "agent": .string(agent),
            "method": .string(request.method.rawValue),
            "path": .string(request.uri),
            "headers": .object(headers),
            "authorization_present": .bool(request.headers.contains(name: "authorization")),
            "identity": .object(identity),
            "assertion": assertion.json,
            "body_bytes": .number(String(request.body.count)),
        ]
        if let text = String(validating: request.body, as: UTF8.self) { out["body"] = .string(text) }
        return .object(out)
    }

    /// `count` events (default 3, at most 1000), `interval_ms` apart (default 100, at most 10000).
    static func events(_ request: HTTPServerRequest, agent: String) -> HTTPServerResponse {
        let query = request.queryParameters
        let count = min(max(query["count"].flatMap(Int.init) ?? 3, 0), 1000)
        let interval = min(max(query["interval_ms"].flatMap(Int.init) ?? 100, 0), 10_000)
        let (stream, feed) = AsyncStream<[UInt8]>.makeStream()
        let producer = Task {
            for seq in 0..<count {
                if seq > 0 {
                    do { try await Task.sleep(for: .milliseconds(interval)) } catch { break }
                }
                let data = JSONValue.object([
                    "agent": .string(agent), "seq": .number(String(seq)), "of": .number(String(count)),
                ]).compactText
                feed.yield(Array("data: \(data)\n\n".utf8))
            }
            feed.finish()
        }
        // The client went away: stop producing.
        feed.onTermination = { _ in producer.cancel() }
        return HTTPServerResponse(
            headers: ["Content-Type": "text/event-stream", "Cache-Control": "no-cache"], stream: stream)
    }
}
