import GatehouseConfig
import GatehouseCore
import GatehouseHTTP
import GatehouseIdentity
import GatehouseSessions

/// `…/tenants/{t}/idps`: IdPs registered at runtime (docs/admin-api.md "Registering an IdP").
extension AdminAPI {
    func listIdPs(_ call: Call) -> HTTPServerResponse {
        guard let tenant = call.tenant else { return notFound("tenant") }
        return page(allIdPs(tenant).map(idpJSON), next: nil)
    }

    func getIdP(_ call: Call) -> HTTPServerResponse {
        guard let tenant = call.tenant, let name = call.parameters["name"],
            let found = allIdPs(tenant).first(where: { $0.idp.name == name })
        else { return notFound("IdP") }
        return .json(idpJSON(found))
    }

    /// Validates the body as the YAML would be, refuses names and issuers the tenant files own,
    /// fetches the keys live (through the request-forgery guard), then stores and applies. The
    /// answer goes out once the IdP is in force on the data plane.
    func putIdP(_ call: Call) async -> HTTPServerResponse {
        guard let tenant = call.tenant, let name = call.parameters["name"] else { return notFound("tenant") }
        let target = "idp/\(name)"
        @Sendable func refuse(_ outcome: String, _ detail: String, _ response: HTTPServerResponse) async -> HTTPServerResponse {
            await auditRefusal(call, tenant: tenant, action: "idp.put", target: target, outcome: outcome, detail: detail)
            return response
        }
        guard IdentityProvider.isValidName(name) else {
            let message = "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            return await refuse("invalid", "name: \(message)", invalid([("name", message)]))
        }
        let body: JSONValue
        switch jsonObject(call.request) {
        case .failure(let r): return await refuse("invalid", "unreadable body", r)
        case .success(let v): body = v
        }
        let settings = deps.control.snapshot.settings
        let idp: IdentityProvider
        switch ConfigLoader.parseIdentityProvider(body, name: name, settings: settings, source: .admin) {
        case .failure(let problems):
            return await refuse("invalid", problems.map(\.description).joined(separator: "; "), invalid(problems.map { ($0.path, $0.message) }))
        case .success(let parsed): idp = parsed
        }
        return await gate.run { [self] in
            let snapshot = deps.control.snapshot
            guard let current = snapshot.tenants[tenant] else { return notFound("tenant") }
            let fileIdPs = current.idps.filter { $0.source == .file }
            if fileIdPs.contains(where: { $0.name.lowercased() == name.lowercased() }) {
                return await refuse("conflict", "declared in the tenant file", .error(
                    status: .conflict, code: "read_only", description: "this IdP is declared in the tenant file and can only be changed there"))
            }
            let others = deps.control.registeredIdPs(tenant: tenant).filter { $0.name != name }
            if let reason = RegisteredIdPs.conflict(idp, with: fileIdPs + others) {
                return await refuse("invalid", reason, invalid([("issuer", reason)]))
            }
            if let reason = RegisteredIdPs.crossTenantConflict(tenant: tenant, issuer: idp.issuer, in: snapshot) {
                return await refuse("conflict", reason, .error(status: .conflict, code: "issuer_conflict", description: reason))
            }
            let replacing = deps.control.registeredIdPs(tenant: tenant).contains { $0.name == name }
            if !replacing, others.count >= RegisteredIdPs.maxPerTenant {
                let reason = "a tenant may register at most \(RegisteredIdPs.maxPerTenant) IdPs"
                return await refuse("conflict", reason, .error(status: .conflict, code: "too_many_idps", description: reason))
            }
            let keySet: KeySet
            switch await deps.keySets.probe(idp) {
            case .failure(let failure):
                logger.info("IdP registration refused: keys not obtained", metadata: ["tenant": "\(tenant)", "idp": "\(name)", "error": "\(failure)"])
                let message = "could not obtain the IdP's keys: \(failure.description)"
                return await refuse("invalid", message, invalid([(failure.field, message)]))
            case .success(let keys): keySet = keys
            }
            let now = deps.clock()
            let record = RegisteredIdPRecord(tenant: tenant, name: name, document: body.compactText, createdAt: now, updatedAt: now)
            do {
                try await deps.store.putRegisteredIdP(record, audit: auditEntry(call, action: "idp.put", target: target, detail: idp.issuer))
            } catch {
                logger.error("IdP registration not stored", metadata: ["tenant": "\(tenant)", "idp": "\(name)", "error": "\(error)"])
                return storeUnavailable()
            }
            // The old registration's keys and verified tokens must not outlive it.
            deps.keySets.remove(tenant: tenant, idp: name)
            await deps.control.setRegisteredIdP(idp, tenant: tenant)
            deps.tokenCache.invalidate(tenant: tenant, idp: name)
            deps.keySets.install(tenant: tenant, idp: idp, keySet: keySet)
            logChange(call, action: "idp.put", target: target)
            let json = idpJSON((idp, true))
            return .json(status: replacing ? .ok : .created, json, headers: ["Location": "/admin/v1/tenants/\(tenant.rawValue)/idps/\(name)"])
        }
    }

    func deleteIdP(_ call: Call) async -> HTTPServerResponse {
        guard let tenant = call.tenant, let name = call.parameters["name"] else { return notFound("tenant") }
        let target = "idp/\(name)"
        return await gate.run { [self] in
            let snapshot = deps.control.snapshot
            if snapshot.tenants[tenant]?.idps.contains(where: { $0.source == .file && $0.name == name }) == true {
                await auditRefusal(call, tenant: tenant, action: "idp.delete", target: target, outcome: "conflict", detail: "declared in the tenant file")
                return .error(status: .conflict, code: "read_only", description: "this IdP is declared in the tenant file and can only be changed there")
            }
            guard deps.control.registeredIdPs(tenant: tenant).contains(where: { $0.name == name }) else { return notFound("IdP") }
            do {
                guard try await deps.store.deleteRegisteredIdP(
                    tenant: tenant, name: name, audit: auditEntry(call, action: "idp.delete", target: target))
                else { return notFound("IdP") }
            } catch {
                logger.error("IdP removal not stored", metadata: ["tenant": "\(tenant)", "idp": "\(name)", "error": "\(error)"])
                return storeUnavailable()
            }
            await deps.control.removeRegisteredIdP(tenant: tenant, name: name)
            deps.tokenCache.invalidate(tenant: tenant, idp: name)
            deps.keySets.remove(tenant: tenant, idp: name)
            logChange(call, action: "idp.delete", target: target)
            return HTTPServerResponse(status: .noContent)
        }
    }

    /// The tenant's IdPs in force, then registered ones that are not (skipped at merge).
    private func allIdPs(_ tenant: TenantID) -> [(idp: IdentityProvider, inForce: Bool)] {
        let inForce = deps.control.snapshot.tenants[tenant]?.idps ?? []
        let skipped = deps.control.registeredIdPs(tenant: tenant).filter { r in !inForce.contains { $0.source == .admin && $0.name == r.name } }
        return inForce.map { ($0, true) } + skipped.map { ($0, false) }
    }

    private func idpJSON(_ entry: (idp: IdentityProvider, inForce: Bool)) -> JSONValue {
        let idp = entry.idp
        var out: [String: JSONValue] = [
            "name": .string(idp.name),
            "issuer": .string(idp.issuer),
            "allowed_clients": .array(idp.allowedClients.map(JSONValue.string)),
            "allowed_audiences": .array(idp.allowedAudiences.map(JSONValue.string)),
            "required_scopes": .array(idp.requiredScopes.map(JSONValue.string)),
            "algorithms": .array(idp.algorithms.map { .string($0.rawValue) }),
            "claims": .array(idp.claims.map(claimJSON)),
            "source": .string(idp.source.rawValue),
            "read_only": .bool(idp.source == .file),
            "in_force": .bool(entry.inForce),
        ]
        if let url = idp.discoveryURL { out["discovery_url"] = .string(url) }
        if let url = idp.jwksURI { out["jwks_uri"] = .string(url) }
        if let use = idp.tokenUse { out["token_use"] = .string(use) }
        return .object(out)
    }

    private func claimJSON(_ rule: ClaimRule) -> JSONValue {
        switch rule.kind {
        case .equals(let value): .object(["claim": .string(rule.claim.description), "equals": value])
        case .contains(let s): .object(["claim": .string(rule.claim.description), "contains": .string(s)])
        case .containsAny(let list): .object(["claim": .string(rule.claim.description), "contains_any": .array(list.map(JSONValue.string))])
        }
    }
}
