import GatehouseCore

extension ConfigLoader {
    /// Every tenant file in `settings.tenantsDir`, validated one by one and then across tenants.
    /// All problems of all files are returned, not just the first file's.
    public static func loadTenants(settings: GatehouseSettings) -> Result<[Tenant], [ConfigProblem]> {
        let file = settings.configFile.map(FilePaths.lastComponent) ?? ""
        let checked = checkTenants(in: settings.tenantsDir, namedBy: .configFile(file), settings: settings, unsettled: UnsettledSettings())
        return checked.problems.isEmpty ? .success(checked.tenants) : .failure(checked.problems)
    }

    /// The tenant files in `dir` that hold a valid tenant, and every problem: each file's in file
    /// order, then those across tenants.
    static func checkTenants(
        in dir: String, namedBy source: TenantsDirSource, settings: GatehouseSettings, unsettled: UnsettledSettings
    ) -> (tenants: [Tenant], problems: [ConfigProblem]) {
        let base = settings.configFile.map(FilePaths.directory(of:)) ?? FilePaths.directory(of: dir)
        guard let entries = TenantDirectory.entries(in: dir) else { return ([], source.missingDirectory(dir).map { [$0] } ?? []) }
        // Files are read and parsed on every CPU (each on its own); what spans files is then
        // checked in file order.
        let parsed = parallelMap(entries) { entry -> TenantFileOutcome in
            let display = FilePaths.display(entry.path, relativeTo: base)
            switch FilePaths.readText(entry.path, maxBytes: InputLimits.maxFileBytes) {
            case .success(let text):
                return readTenantFile(yaml: text, fileStem: entry.stem, displayFile: display, settings: settings, unsettled: unsettled)
            case .failure(let failure):
                return .broken([ConfigProblem(file: display, path: "", message: failure.description)], match: nil)
            }
        }
        var problems: [ConfigProblem] = []
        var tenants: [Tenant] = []
        var claims: [CrossTenantChecks.Claim] = []
        var fileByID: [String: String] = [:]
        for (entry, outcome) in zip(entries, parsed) {
            let display = FilePaths.display(entry.path, relativeTo: base)
            if let other = fileByID[entry.stem] {
                problems.append(ConfigProblem(file: display, path: "", message: "tenant \(FieldPath.quoted(entry.stem)) is also defined in \(other)"))
                continue
            }
            fileByID[entry.stem] = display
            switch outcome {
            case .tenant(let tenant):
                tenants.append(tenant)
                claims.append(CrossTenantChecks.Claim(tenant: tenant.id, file: display, match: tenant.match))
            case .broken(let fileProblems, let match):
                problems += fileProblems
                // The file's name is the id it must hold; one that cannot be an id claims nothing.
                if let match, let id = TenantID(entry.stem) { claims.append(CrossTenantChecks.Claim(tenant: id, file: display, match: match)) }
            }
        }
        problems += CrossTenantChecks.problems(claims)
        return (tenants, problems)
    }

    /// One tenant file's text -> `Tenant`. `fileStem` is the name the `id` must equal;
    /// `displayFile` names the file in problems and becomes `Tenant.sourceFile`.
    public static func parseTenant(
        yaml: String, fileStem: String, displayFile: String, settings: GatehouseSettings
    ) -> Result<Tenant, [ConfigProblem]> {
        switch readTenantFile(yaml: yaml, fileStem: fileStem, displayFile: displayFile, settings: settings, unsettled: UnsettledSettings()) {
        case .tenant(let tenant): .success(tenant)
        case .broken(let problems, _): .failure(problems)
        }
    }

    /// An IdP submitted through the admin API (`PUT …/idps/{name}`): the YAML fields as JSON,
    /// validated by the same code as tenant files. Problem paths are relative to the body
    /// (`allowed_clients`, `claims[0].claim`) and have an empty file.
    public static func parseIdentityProvider(
        _ value: JSONValue, name: String, settings: GatehouseSettings, source: IdentityProviderSource
    ) -> Result<IdentityProvider, [ConfigProblem]> {
        var reader = ConfigReader(file: "")
        if let idp = reader.identityProvider(value, at: .root, fixedName: name, settings: settings, source: source) {
            return .success(idp)
        }
        return .failure(reader.problems)
    }
}
