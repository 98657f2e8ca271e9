import GatehouseConfig
import GatehouseCore

/// What the admin API needs from the running Gatehouse: the configuration in force, the
/// registered IdPs it merges into the tenants, and a reload of the tenants folder.
public protocol AdminControl: Sendable {
    /// The configuration the data plane uses now (tenant files plus registered IdPs).
    var snapshot: ConfigSnapshot { get }
    /// The registered IdPs of `tenant` as held in memory (those in force and those skipped).
    func registeredIdPs(tenant: TenantID) -> [IdentityProvider]
    /// Adds `idp` to the tenant's registered IdPs, replacing one of the same name, and puts the
    /// result in force on the data plane before returning (other replicas are told too).
    func setRegisteredIdP(_ idp: IdentityProvider, tenant: TenantID) async
    /// Removes a registered IdP and puts the result in force before returning (other replicas are told too).
    func removeRegisteredIdP(tenant: TenantID, name: String) async
    /// Re-reads the tenants folder; a broken file keeps the configuration in force.
    func reloadTenants() -> Result<Int, [ConfigProblem]>
}
