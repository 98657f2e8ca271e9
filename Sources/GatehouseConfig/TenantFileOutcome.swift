import GatehouseCore

/// One tenant file read: its tenant, or its problems.
enum TenantFileOutcome {
    case tenant(Tenant)
    case broken([ConfigProblem])
}

extension ConfigLoader {
    static func readTenantFile(
        yaml: String, fileStem: String, displayFile: String, settings: GatehouseSettings, unsettled: UnsettledSettings
    ) -> TenantFileOutcome {
        var reader = ConfigReader(file: displayFile)
        reader.unsettled = unsettled
        switch YAMLDocument.parse(yaml) {
        case .success(let root):
            if let tenant = reader.tenant(root, fileStem: fileStem, sourceFile: displayFile, settings: settings) {
                return .tenant(tenant)
            }
        case .failure(let failure):
            reader.fail(.root, failure.message)
        }
        return .broken(reader.problems)
    }
}
