import GatehouseCore
import Logging
import NIOCore

/// Entry points for the micro benchmarks in `Benchmarks/` (SPI `Benchmarks`, not API).
///
/// Each one forwards to the internal code the request path runs, so that a benchmark measures
/// that code and not a copy of it. Nothing outside the benchmark package should import this SPI.
@_spi(Benchmarks)
public enum BenchmarkHooks {
    /// Parses a request head from `bytes` as the data plane does, marks the fields the strip
    /// rule removes for `tenant` (nil: every tenant's, as before the tenant is known) and finds
    /// the bearer token. Returns the number of fields stripped, or nil when the head does not
    /// parse or carries no bearer token.
    public static func parseStripAndFindToken(_ bytes: ByteBuffer, config: CompiledConfig, tenant: TenantID?) -> Int? {
        var parser = RequestHeadParser(maxHeadBytes: 65536)
        var buffer = bytes
        guard case .complete(let length) = parser.parse(buffer) else { return nil }
        var head = parser.take(length: length, from: &buffer)
        let stripped = Admission.markStripped(&head, config: config, tenant: tenant.flatMap { config.tenants[$0] })
        guard case .token = Admission.bearer(head) else { return nil }
        return stripped
    }

    /// The propagated header lines of `principal` (what the verified-token cache keeps ready).
    /// Returns their size in bytes, or nil when the principal's tenant is not in `config`.
    public static func propagatedLines(config: CompiledConfig, principal: Principal, logger: Logger) -> Int? {
        guard let tenant = config.tenants[principal.tenant] else { return nil }
        return PropagatedLines.build(tenant: tenant, principal: principal, logger: logger).readableBytes
    }

    /// The tenant a `Host` header selects, looked up as the request path does (port and letter
    /// case ignored).
    public static func tenant(forHost host: String, in config: CompiledConfig) -> TenantID? {
        config.snapshot.tenantByHost[ProtectedResourceMetadata.authorityHost(host)]
    }
}
