/// A response status Gatehouse writes itself, named as RFC 9110 names it.
struct ResponseStatus: Equatable, Sendable {
    let code: Int

    init(statusCode: Int) { code = statusCode }

    static let ok = ResponseStatus(statusCode: 200)
    static let badRequest = ResponseStatus(statusCode: 400)
    static let unauthorized = ResponseStatus(statusCode: 401)
    static let forbidden = ResponseStatus(statusCode: 403)
    static let notFound = ResponseStatus(statusCode: 404)
    static let methodNotAllowed = ResponseStatus(statusCode: 405)
    static let conflict = ResponseStatus(statusCode: 409)
    static let payloadTooLarge = ResponseStatus(statusCode: 413)
    static let requestHeaderFieldsTooLarge = ResponseStatus(statusCode: 431)
    static let tooManyRequests = ResponseStatus(statusCode: 429)
    static let internalServerError = ResponseStatus(statusCode: 500)
    static let notImplemented = ResponseStatus(statusCode: 501)
    static let badGateway = ResponseStatus(statusCode: 502)
    static let serviceUnavailable = ResponseStatus(statusCode: 503)
    static let gatewayTimeout = ResponseStatus(statusCode: 504)
}

/// The header fields of a response Gatehouse writes itself, in order.
struct ResponseFields: Sequence, Sendable, ExpressibleByArrayLiteral {
    private(set) var list: [(name: String, value: String)] = []

    init() {}
    init(arrayLiteral elements: (String, String)...) { list = elements.map { (name: $0.0, value: $0.1) } }

    var count: Int { list.count }

    mutating func add(name: String, value: String) { list.append((name, value)) }

    mutating func replaceOrAdd(name: String, value: String) {
        let lower = name.lowercased()
        list.removeAll { $0.name.lowercased() == lower }
        list.append((name, value))
    }

    func first(name: String) -> String? {
        let lower = name.lowercased()
        return list.first { $0.name.lowercased() == lower }?.value
    }

    func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { list.makeIterator() }
}
