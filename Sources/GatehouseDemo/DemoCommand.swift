import Foundation
import GatehouseApp
import GatehouseCore
import NIOCore
import NIOPosix

/// `gatehouse demo` (docs/configuration.md "Commands"): a development IdP, two echo agents and Gatehouse for two
/// tenants, all on loopback, then ready-to-paste curl commands. Never enabled by `serve`.
public enum DemoCommand {
    public static func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let stateDir = NSTemporaryDirectory() + "gatehouse-demo-\(getpid())"
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)

        let idp = try await DevIdentityProvider.start(port: PortProbe.preferred(9400), group: group)
        let acmeAgent = try await EchoAgent.start(port: PortProbe.preferred(7001), group: group, options: .init(name: "acme-agent", recordLimit: 100))
        let globexAgent = try await EchoAgent.start(port: PortProbe.preferred(7002), group: group, options: .init(name: "globex-agent", recordLimit: 100))

        var settings = GatehouseSettings()
        settings.listen = SocketAddressSpec(host: "127.0.0.1", port: PortProbe.preferred(8080))
        settings.adminListen = SocketAddressSpec(host: "127.0.0.1", port: PortProbe.preferred(9090))
        settings.identity.insecureIdPHosts = ["127.0.0.1"]
        settings.assertion.keyDir = stateDir + "/keys"
        settings.tenantsDir = stateDir + "/tenants"
        settings.store = .sqlite(path: stateDir + "/state.sqlite")
        // Created with a random token on first start (mode 0600); the banner shows how to read it.
        settings.operatorTokenFile = stateDir + "/operator-token"
        let tenants = [
            demoTenant("acme", display: "Acme Corp", idp: idp, agent: acmeAgent),
            demoTenant("globex", display: "Globex Inc", idp: idp, agent: globexAgent),
        ]
        var options = Gatehouse.Options()
        options.watchTenants = false
        let gatehouse = try Gatehouse(snapshot: ConfigSnapshot(settings: settings, tenants: tenants), options: options)
        try await gatehouse.start()
        let proxy = "http://127.0.0.1:\(gatehouse.dataPort)"
        for agent in [acmeAgent, globexAgent] { agent.setAssertionJWKSURL(proxy + "/.gatehouse/jwks.json") }

        LogOutput.write(
            banner(proxy: proxy, admin: "http://127.0.0.1:\(gatehouse.adminPort)", idp: idp.issuer, tokenFile: stateDir + "/operator-token"),
            toStderr: false)
        await SignalWaiter().waitForTermination()
        LogOutput.write("\nstopping…\n", toStderr: false)
        await gatehouse.shutdown()
        try? await acmeAgent.shutdown()
        try? await globexAgent.shutdown()
        try? await idp.shutdown()
        try? await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: stateDir)
    }

    static func demoTenant(_ id: String, display: String, idp: DevIdentityProvider, agent: EchoAgent) -> Tenant {
        let provider = IdentityProvider(
            name: "dev-idp", issuer: idp.issuer, discoveryURL: idp.discoveryURL, allowedClients: ["gatehouse-demo"],
            claims: [ClaimRule(claim: try! ClaimPath("custom:tenant_id"), kind: .equals(.string(id)))])
        return Tenant(
            id: TenantID(id)!, displayName: display, match: TenantMatch(pathPrefix: "/t/\(id)"), idps: [provider],
            upstreams: [Upstream(url: agent.baseURL)!],
            propagate: Tenant.defaultPropagation + [PropagationRule(header: "X-User-Email", source: .claim(try! ClaimPath("email")))])
    }

    static func banner(proxy: String, admin: String, idp: String, tokenFile: String) -> String {
        let fetch = { (sub: String, tenant: String) in
            "$(curl -s '\(idp)/token?sub=\(sub)&tenant=\(tenant)' | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')"
        }
        return """

            Gatehouse demo is running (Ctrl-C stops everything).
              proxy      \(proxy)       tenants: acme (/t/acme), globex (/t/globex)
              admin      \(admin)       /healthz /readyz /metrics /admin/v1/… (openapi.json)
              dev IdP    \(idp)       /token?sub=NAME&tenant=TENANT  /jwks.json

            1. Get tokens for alice (tenant acme) and bob (tenant globex):
                 ALICE=\(fetch("alice", "acme"))
                 BOB=\(fetch("bob", "globex"))

            2. A good token reaches its tenant's agent, which echoes the identity it received
               (X-Tenant-Id, X-User-Id, X-User-Email) and whether Gatehouse's signed assertion verified:
                 curl -s -H "Authorization: Bearer $ALICE" \(proxy)/t/acme/hello

            3. A spoofed identity header is stripped; the agent still sees alice:
                 curl -s -H "Authorization: Bearer $ALICE" -H "X-User-Id: mallory" -H "x_user_id: mallory" \(proxy)/t/acme/hello

            4. A token of tenant acme is refused at tenant globex (401), and no token at all is 401 too:
                 curl -si -H "Authorization: Bearer $ALICE" \(proxy)/t/globex/hello
                 curl -si \(proxy)/t/acme/hello

            5. Server-sent events stream through event by event:
                 curl -sN -H "Authorization: Bearer $BOB" "\(proxy)/t/globex/sse?count=5&interval_ms=500"

            6. Protected Resource Metadata, Gatehouse's assertion keys, metrics:
                 curl -s \(proxy)/.well-known/oauth-protected-resource/t/acme
                 curl -s \(proxy)/.gatehouse/jwks.json
                 curl -s \(admin)/metrics | grep gatehouse_requests_total

            7. The admin API: the operator makes a key for acme's admin, who lists acme's IdPs and sessions:
                 OP=$(cat \(tokenFile))
                 KEY=$(curl -s -X POST -H "Authorization: Bearer $OP" \(admin)/admin/v1/tenants/acme/keys | sed -E 's/.*"key":"([^"]+)".*/\\1/')
                 curl -s -H "Authorization: Bearer $KEY" \(admin)/admin/v1/tenants/acme/idps
                 curl -s -H "Authorization: Bearer $KEY" \(admin)/admin/v1/tenants/acme/sessions
                 curl -si -H "Authorization: Bearer $KEY" \(admin)/admin/v1/tenants/globex/idps     # 403: another tenant

            """
    }
}

/// Picks the demo's well-known ports when they are free, any free port otherwise.
enum PortProbe {
    static func preferred(_ port: Int) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc == 0 ? port : 0
    }
}
