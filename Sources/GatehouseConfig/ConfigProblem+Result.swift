/// Lets a load fail with every problem at once: `Result<Tenant, [ConfigProblem]>`. The
/// conformance is limited to arrays of `ConfigProblem`, the only kind this module reports.
extension Array: @retroactive Error where Element == ConfigProblem {}
