import GatehouseCore

/// Settings that are valid but unsafe for what the tenant declares: `gatehouse check` prints them
/// (and still exits 0), `serve` logs them. Each reads `FILE: KEY.PATH: warning: message`.
public enum ConfigWarnings {
    public static func of(_ snapshot: ConfigSnapshot) -> [String] {
        var out: [String] = []
        for tenant in snapshot.tenants.values.sorted(by: { $0.id.rawValue < $1.id.rawValue }) where tenant.mcp != nil {
            let file = tenant.sourceFile.isEmpty ? "tenants/\(tenant.id.rawValue).yaml" : tenant.sourceFile
            // RFC 8707 / MCP authorization: a token must name this server as its audience, or a
            // token minted for another MCP server of the same IdP works here too.
            for (i, idp) in tenant.idps.enumerated() where idp.allowedAudiences.isEmpty {
                out.append(
                    "\(file): idps[\(i)].allowed_audiences: warning: an MCP tenant's IdP should bind tokens to this server's audience (RFC 8707); \(idp.name) accepts tokens by client only")
            }
            // MCP forbids token passthrough: the agent gets the caller's token, and with it the
            // power to call anything that token reaches.
            if tenant.authorization == .passthrough {
                out.append(
                    "\(file): authorization: warning: an MCP tenant passes the caller's token to the server (MCP forbids token passthrough); use authorization: drop (the signed assertion carries the identity)")
            }
        }
        return out
    }
}
