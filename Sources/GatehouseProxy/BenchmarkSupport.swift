import GatehouseCore
import Logging
import NIOHTTP1

/// Entry points for the micro benchmarks in `Benchmarks/` (SPI `Benchmarks`, not API).
///
/// Each one forwards to the internal code the request path runs, so that a benchmark measures
/// that code and not a copy of it. Nothing outside the benchmark package should import this SPI.
@_spi(Benchmarks)
public enum BenchmarkHooks {
    /// `HeaderRewriting.strip`: removes protected, assertion and propagated headers (DESIGN 3.3).
    /// `tenant` nil strips as for a request whose tenant is not known yet (every tenant's names).
    public static func strip(_ headers: inout HTTPHeaders, config: CompiledConfig, tenant: TenantID?) {
        HeaderRewriting.strip(&headers, config: config, tenant: tenant.flatMap { config.tenants[$0] })
    }

    /// `HeaderRewriting.bearerToken`: the token of `Authorization: Bearer …`, or nil when the
    /// header is absent, of another scheme, or malformed.
    public static func bearerToken(_ headers: HTTPHeaders) -> String? {
        if case .token(let token) = HeaderRewriting.bearerToken(headers) { return token }
        return nil
    }

    /// `HeaderRewriting.propagate`: sets the principal's tenant's propagated headers from its
    /// verified claims. Returns false when that tenant is not in `config`.
    @discardableResult
    public static func propagate(into headers: inout HTTPHeaders, config: CompiledConfig, principal: Principal, logger: Logger) -> Bool {
        guard let tenant = config.tenants[principal.tenant] else { return false }
        HeaderRewriting.propagate(into: &headers, tenant: tenant, principal: principal, logger: logger, requestID: "bench")
        return true
    }

    /// The tenant a `Host` header selects, looked up as `ProxyHandler` does (port and letter
    /// case ignored).
    public static func tenant(forHost host: String, in config: CompiledConfig) -> TenantID? {
        config.snapshot.tenantByHost[ProtectedResourceMetadata.authorityHost(host)]
    }
}
