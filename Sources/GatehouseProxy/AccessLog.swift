/// Whether the data plane writes its access log (docs/observability.md "The access log": one JSON line per
/// request on stdout; the line itself is `ProxyExchange.writeAccessLine`).
struct AccessLog: Sendable {
    let enabled: Bool
}
