import GatehouseCore

/// `propagate:` and `sessions:` of a tenant: header names Gatehouse sets or tracks.
extension ConfigReader {
    /// Header -> `$tenant` or a claim path. Present means exactly what it lists (even nothing);
    /// rules come out sorted by header name, since a map has no order.
    mutating func propagationRules(_ value: JSONValue, at path: FieldPath, settings: GatehouseSettings) -> [PropagationRule]? {
        guard case .object(let members) = value else {
            fail(path, "expected a map of header name to claim path, found \(ConfigReader.kind(of: value))")
            return nil
        }
        guard members.count <= InputLimits.maxPropagationRules else {
            fail(path, "must have at most \(InputLimits.maxPropagationRules) entries (found \(members.count))")
            return nil
        }
        return checked { r in
            var seen: [String: String] = [:]
            var rules: [PropagationRule] = []
            for header in members.keys.sorted() {
                let at = path.key(header)
                if let message = r.setHeaderProblem(header, settings: settings) {
                    r.fail(at, message)
                    continue
                }
                let canonical = HeaderName.canonical(header)
                if let other = seen[canonical] {
                    r.fail(at, "same header as \(FieldPath.quoted(other)) (names are case-insensitive and _ equals -)")
                    continue
                }
                seen[canonical] = header
                guard let source = r.propagationSource(members[header]!, at: at) else { continue }
                rules.append(PropagationRule(header: header, source: source))
            }
            return rules
        }
    }

    private mutating func propagationSource(_ value: JSONValue, at path: FieldPath) -> PropagationSource? {
        guard let text = string(value, at: path, maxBytes: InputLimits.maxNameBytes) else { return nil }
        if text == "$tenant" { return .tenant }
        // Claim names never start with `$`; this is a misspelt variable, not a claim.
        if text.hasPrefix("$") {
            fail(path, "unknown variable \(FieldPath.quoted(text)) (the only one is $tenant)")
            return nil
        }
        return claimPath(value, at: path).map(PropagationSource.claim)
    }

    /// A header Gatehouse sets must not be framing, a credential, the assertion header, or a
    /// header stripped by a protected prefix on the way in.
    private mutating func setHeaderProblem(_ header: String, settings: GatehouseSettings) -> String? {
        guard header.utf8.count <= InputLimits.maxNameBytes else { return "header name is too long" }
        if let message = HeaderRules.problemWithSetHeader(header) { return message }
        if !unsettled.contains(UnsettledSettings.assertionHeader),
            HeaderName.canonical(header) == HeaderName.canonical(settings.assertion.header)
        {
            return "is the assertion header (assertion.header), which Gatehouse sets itself"
        }
        return nil
    }

    mutating func sessionRules(
        _ value: JSONValue, at path: FieldPath, settings: GatehouseSettings, propagated: [PropagationRule]
    ) -> [SessionRule]? {
        guard let items = list(value, at: path, maxCount: InputLimits.maxSessionRules) else { return nil }
        let propagatedNames = Set(propagated.map { HeaderName.canonical($0.header) })
        return checked { r in
            var seen: Set<String> = []
            var rules: [SessionRule] = []
            for (i, item) in items.enumerated() {
                guard let fields = r.object(item, at: path.index(i), allowed: ["header", "issued_by", "argument"]) else { continue }
                let headerPath = fields.path("header")
                var header = r.required(fields, "header").flatMap { r.string($0, at: headerPath, maxBytes: InputLimits.maxNameBytes) }
                if let name = header {
                    let canonical = HeaderName.canonical(name)
                    let problem: String? =
                        if let message = r.setHeaderProblem(name, settings: settings) { message }
                        else if seen.contains(canonical) { "duplicate session header" }
                        else if propagatedNames.contains(canonical) { "is also a propagate header, which is replaced on every request" }
                        else if !r.unsettled.contains(UnsettledSettings.protectedPrefixes),
                            settings.protectedPrefixes.contains(where: canonical.hasPrefix)
                        {
                            "starts with a protected prefix (propagation.protected_prefixes), so clients could never send it"
                        } else { nil }
                    if let problem {
                        r.fail(headerPath, problem)
                        header = nil
                    } else {
                        seen.insert(canonical)
                    }
                }
                let issuedBy = r.required(fields, "issued_by").flatMap { r.issuedBy($0, at: fields.path("issued_by")) }
                var argument: String?
                if let v = fields["argument"], let name = r.string(v, at: fields.path("argument"), maxBytes: 128) {
                    if name.isEmpty || name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                        r.fail(fields.path("argument"), "must be a tool argument's name")
                    } else if issuedBy == .server {
                        r.fail(fields.path("argument"), "is for client-issued ids (issued_by: client): a tool argument is what the client sends")
                    } else {
                        argument = name
                    }
                }
                if let header, let issuedBy { rules.append(SessionRule(header: header, issuedBy: issuedBy, argument: argument)) }
            }
            return rules
        }
    }

    private mutating func issuedBy(_ value: JSONValue, at path: FieldPath) -> SessionRule.IssuedBy? {
        guard let text = string(value, at: path, maxBytes: 32) else { return nil }
        guard let issuedBy = SessionRule.IssuedBy(rawValue: text) else {
            fail(path, "must be server (the upstream hands out the id) or client (the caller picks it)")
            return nil
        }
        return issuedBy
    }
}
