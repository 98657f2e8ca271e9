import GatehouseCore

/// Entry points for the micro benchmarks in `Benchmarks/` (SPI `Benchmarks`, not API): thin
/// wrappers over internal code, so that a benchmark measures the code the request path runs.
@_spi(Benchmarks)
public enum IdentityBenchmarkHooks {
    /// `IdPCandidates.find`: the (tenant, IdP) pairs a token with this `iss` is checked against —
    /// the lookup behind routing by issuer, done on every verification and every cache hit.
    /// Returns how many candidates there are and the first one's tenant.
    public static func candidates(issuer: String, tenant: TenantID?, snapshot: ConfigSnapshot) -> (count: Int, first: TenantID?) {
        let found = IdPCandidates.find(issuer: issuer, tenant: tenant, in: snapshot)
        return (found.count, found.first?.tenant)
    }
}
