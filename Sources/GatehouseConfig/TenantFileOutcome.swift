import GatehouseCore

/// One tenant file read: its tenant, or its problems and the valid part of its `match:` (which
/// still takes part in the checks across tenants).
enum TenantFileOutcome {
    case tenant(Tenant)
    case broken([ConfigProblem], match: TenantMatch?)
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
            return .broken(reader.problems, match: validMatch(root, file: displayFile))
        case .failure(let failure):
            reader.fail(.root, failure.message)
            return .broken(reader.problems, match: nil)
        }
    }

    /// `match:` read again on its own, its problems dropped (the full read reported them): what
    /// is left is only what is valid (a host list with a bad entry is left out whole).
    private static func validMatch(_ root: JSONValue, file: String) -> TenantMatch? {
        guard case .object(let members) = root, let value = members["match"] else { return nil }
        var scratch = ConfigReader(file: file)
        return scratch.tenantMatch(value, at: FieldPath.root.key("match"))
    }
}
