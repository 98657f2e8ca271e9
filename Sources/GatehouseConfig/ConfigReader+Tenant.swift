import Foundation
import GatehouseCore

/// A tenant file (tenants/README.md) -> `Tenant`.
extension ConfigReader {
    static let tenantKeys: Set<String> = [
        "id", "display_name", "match", "idps", "upstreams", "preserve_host", "propagate", "authorization", "sessions",
        "session_idle_ttl_seconds", "oauth", "limits", "mcp",
    ]

    mutating func tenant(_ root: JSONValue, fileStem: String, sourceFile: String, settings: GatehouseSettings) -> Tenant? {
        checked { r in r.tenantFields(root, fileStem: fileStem, sourceFile: sourceFile, settings: settings) }
    }

    private mutating func tenantFields(_ root: JSONValue, fileStem: String, sourceFile: String, settings: GatehouseSettings) -> Tenant? {
        guard let fields = object(root, at: .root, allowed: ConfigReader.tenantKeys) else { return nil }
        let id = required(fields, "id").flatMap { tenantID($0, at: fields.path("id"), fileStem: fileStem) }
        let displayName = fields["display_name"].flatMap { string($0, at: fields.path("display_name"), maxBytes: InputLimits.maxNameBytes) }
        let match = fields["match"].flatMap { tenantMatch($0, at: fields.path("match")) } ?? TenantMatch()
        let idps = fields["idps"].flatMap { identityProviders($0, at: fields.path("idps"), settings: settings) } ?? []
        let upstreams = required(fields, "upstreams").flatMap { self.upstreams($0, at: fields.path("upstreams")) }
        let preserveHost = fields["preserve_host"].flatMap { bool($0, at: fields.path("preserve_host")) } ?? false
        let propagate = fields["propagate"].map { propagationRules($0, at: fields.path("propagate"), settings: settings) }
            ?? Tenant.defaultPropagation
        let authorization = fields["authorization"].flatMap { authorizationMode($0, at: fields.path("authorization")) } ?? .passthrough
        let sessions = fields["sessions"].map {
            sessionRules($0, at: fields.path("sessions"), settings: settings, propagated: propagate ?? [])
        } ?? Tenant.defaultSessions
        let idleTTL = fields["session_idle_ttl_seconds"].flatMap {
            integer($0, at: fields.path("session_idle_ttl_seconds"), in: 1...InputLimits.maxSeconds)
        } ?? 3600
        let oauth = fields["oauth"].flatMap { oauthSettings($0, at: fields.path("oauth")) }
        let limits = fields["limits"].flatMap { tenantLimits($0, at: fields.path("limits")) } ?? TenantLimits()
        let mcp = fields["mcp"].flatMap { mcpPolicy($0, at: fields.path("mcp")) }

        guard let id, let upstreams, let propagate, let sessions else { return nil }
        return Tenant(
            id: id, displayName: displayName ?? id.rawValue, match: match, idps: idps, upstreams: upstreams,
            preserveHost: preserveHost, propagate: propagate, authorization: authorization, sessions: sessions,
            sessionIdleTTLSeconds: idleTTL, oauth: oauth, limits: limits, mcp: mcp, sourceFile: sourceFile)
    }

    private mutating func tenantID(_ value: JSONValue, at path: FieldPath, fileStem: String) -> TenantID? {
        guard let text = string(value, at: path, maxBytes: InputLimits.maxNameBytes) else { return nil }
        guard let id = TenantID(text) else {
            fail(path, "must match [a-z0-9][a-z0-9-]{0,62} (lower-case letters, digits and '-')")
            return nil
        }
        // The file name is the tenant's identity on disk: one file, one tenant, no two files for one id.
        guard text == fileStem else {
            fail(path, "must equal the file name's stem (\(FieldPath.quoted(fileStem))); rename the file to \(text).yaml or fix the id")
            return nil
        }
        return id
    }

    private mutating func identityProviders(_ value: JSONValue, at path: FieldPath, settings: GatehouseSettings) -> [IdentityProvider]? {
        guard let items = list(value, at: path, maxCount: InputLimits.maxIdPs) else { return nil }
        return checked { r in
            var idps: [IdentityProvider] = []
            for (i, item) in items.enumerated() {
                guard let idp = r.identityProvider(item, at: path.index(i), fixedName: nil, settings: settings, source: .file) else {
                    continue
                }
                // Names are compared case-insensitively so `Okta` and `okta` cannot both appear in listings.
                if let other = idps.firstIndex(where: { $0.name.lowercased() == idp.name.lowercased() }) {
                    r.fail(path.index(i).key("name"), "duplicate IdP name (also idps[\(other)])")
                    continue
                }
                // Tokens pick their IdP by (tenant, iss); two IdPs with one issuer would make that a guess.
                if let other = idps.firstIndex(where: { $0.issuer == idp.issuer }) {
                    r.fail(path.index(i).key("issuer"), "same issuer as idps[\(other)]; merge the two into one IdP")
                    continue
                }
                idps.append(idp)
            }
            return idps
        }
    }

    private mutating func upstreams(_ value: JSONValue, at path: FieldPath) -> [Upstream]? {
        guard let items = list(value, at: path) else { return nil }
        guard !items.isEmpty else {
            fail(path, "must list at least one upstream")
            return nil
        }
        return checked { r in
            items.enumerated().compactMap { i, item in
                guard let fields = r.object(item, at: path.index(i), allowed: ["url", "ca_file", "server_name"]),
                    let v = r.required(fields, "url"), let text = r.string(v, at: fields.path("url"))
                else { return nil }
                guard var upstream = Upstream(url: text) else {
                    r.fail(fields.path("url"), "must be an http or https URL with a host (no user info, query or fragment)")
                    return nil
                }
                if let v = fields["ca_file"], let file = r.string(v, at: fields.path("ca_file")) {
                    if upstream.scheme != "https" {
                        r.fail(fields.path("ca_file"), "is only for https upstreams")
                    } else if !file.hasPrefix("/") {
                        r.fail(fields.path("ca_file"), "must be an absolute path")
                    } else if !FileManager.default.isReadableFile(atPath: file) {
                        r.fail(fields.path("ca_file"), "is not a readable file")
                    } else {
                        upstream.caFile = file
                    }
                }
                if let v = fields["server_name"], let name = r.string(v, at: fields.path("server_name"), maxBytes: 253) {
                    if upstream.scheme != "https" {
                        r.fail(fields.path("server_name"), "is only for https upstreams")
                    } else {
                        switch HostNames.dnsName(name) {
                        case .success(let n): upstream.serverName = n
                        case .failure: r.fail(fields.path("server_name"), "must be a DNS name")
                        }
                    }
                }
                return upstream
            }
        }
    }

    private mutating func authorizationMode(_ value: JSONValue, at path: FieldPath) -> AuthorizationMode? {
        guard let text = string(value, at: path, maxBytes: 32) else { return nil }
        guard let mode = AuthorizationMode(rawValue: text) else {
            fail(path, "must be passthrough or drop")
            return nil
        }
        return mode
    }

    private mutating func oauthSettings(_ value: JSONValue, at path: FieldPath) -> OAuthSettings? {
        guard let fields = object(value, at: path, allowed: ["completion_url", "flow_ttl_seconds"]) else { return nil }
        let urlPath = fields.path("completion_url")
        var completionURL = required(fields, "completion_url").flatMap { string($0, at: urlPath) }
        if let text = completionURL {
            let url = ParsedURL(text)
            if url == nil || !(url!.scheme == "http" || url!.scheme == "https") || url!.hasUserInfo || url!.fragment != nil {
                fail(urlPath, "must be an http or https URL (no user info or fragment)")
                completionURL = nil
            }
        }
        let ttl = fields["flow_ttl_seconds"].flatMap { integer($0, at: fields.path("flow_ttl_seconds"), in: 1...86400) } ?? 600
        guard let completionURL else { return nil }
        return OAuthSettings(completionURL: completionURL, flowTTLSeconds: ttl)
    }

    private mutating func tenantLimits(_ value: JSONValue, at path: FieldPath) -> TenantLimits? {
        guard let fields = object(
            value, at: path,
            allowed: ["requests_per_second", "max_concurrent_requests", "per_subject_requests_per_second", "per_subject_max_concurrent_requests"])
        else { return nil }
        var limits = TenantLimits()
        if let v = fields["requests_per_second"], let n = number(v, at: fields.path("requests_per_second"), in: 0...1_000_000) {
            limits.requestsPerSecond = n
        }
        if let v = fields["max_concurrent_requests"], let n = integer(v, at: fields.path("max_concurrent_requests"), in: 0...1_000_000) {
            limits.maxConcurrentRequests = n
        }
        if let v = fields["per_subject_requests_per_second"],
            let n = number(v, at: fields.path("per_subject_requests_per_second"), in: 0...1_000_000)
        {
            limits.perSubjectRequestsPerSecond = n
        }
        if let v = fields["per_subject_max_concurrent_requests"],
            let n = integer(v, at: fields.path("per_subject_max_concurrent_requests"), in: 0...1_000_000)
        {
            limits.perSubjectMaxConcurrentRequests = n
        }
        return limits
    }
}
