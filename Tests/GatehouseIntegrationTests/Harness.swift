import Foundation
import GatehouseApp
import GatehouseCore
import GatehouseDemo
import GatehouseHTTP
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A whole Gatehouse on loopback: a development IdP serving real JWKS over HTTP, recording echo
/// agents as upstreams, and Gatehouse itself on ephemeral ports.
final class Harness: @unchecked Sendable {
    let group: MultiThreadedEventLoopGroup
    let idp: DevIdentityProvider
    /// acme has two instances, globex one.
    let acme: [EchoAgent]
    let globex: EchoAgent
    private(set) var gatehouse: Gatehouse
    let keyDir: String
    /// The configuration as the tenant files would give it, and the options: for a restart.
    private var fileSnapshot: ConfigSnapshot!
    private var options = Gatehouse.Options()
    var client: RawClient { RawClient(port: gatehouse.dataPort) }
    var admin: RawClient { RawClient(port: gatehouse.adminPort) }

    struct Setup {
        var settings: GatehouseSettings
        var tenants: [Tenant]
        /// Gatehouse's wall clock (token times, session and flow expiry).
        var clock: WallClock = SystemWallClock.now
        /// Resolves IdP host names (nil: the system resolver).
        var resolver: (any HostResolver)?
    }

    private init(group: MultiThreadedEventLoopGroup, idp: DevIdentityProvider, acme: [EchoAgent], globex: EchoAgent, gatehouse: Gatehouse, keyDir: String) {
        self.group = group
        self.idp = idp
        self.acme = acme
        self.globex = globex
        self.gatehouse = gatehouse
        self.keyDir = keyDir
    }

    /// The standard two-tenant setup; `customize` may change anything before Gatehouse starts.
    static func start(_ customize: (inout Setup, DevIdentityProvider, [EchoAgent]) throws -> Void = { _, _, _ in }) async throws -> Harness {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let idp = try await DevIdentityProvider.start(group: group)
        let a1 = try await EchoAgent.start(group: group, options: .init(name: "acme-1"))
        let a2 = try await EchoAgent.start(group: group, options: .init(name: "acme-2"))
        let g1 = try await EchoAgent.start(group: group, options: .init(name: "globex-1"))
        let keyDir = NSTemporaryDirectory() + "gatehouse-test-\(UUID().uuidString)"

        var settings = GatehouseSettings()
        settings.listen = SocketAddressSpec(host: "127.0.0.1", port: 0)
        settings.adminListen = SocketAddressSpec(host: "127.0.0.1", port: 0)
        settings.identity.insecureIdPHosts = ["127.0.0.1"]
        settings.assertion.keyDir = keyDir + "/keys"
        settings.tenantsDir = keyDir + "/tenants"
        settings.store = .sqlite(path: keyDir + "/state.sqlite")
        settings.limits.upstreamConnectTimeoutSeconds = 2
        var setup = Setup(
            settings: settings,
            tenants: [
                tenant("acme", idp: idp, upstreams: [a1, a2], hosts: ["acme.test"]),
                tenant("globex", idp: idp, upstreams: [g1], hosts: ["globex.test"]),
            ])
        try customize(&setup, idp, [a1, a2, g1])
        var options = Gatehouse.Options()
        options.accessLog = false
        options.watchTenants = false
        options.threads = 1
        options.clock = setup.clock
        options.resolver = setup.resolver
        let fileSnapshot = ConfigSnapshot(settings: setup.settings, tenants: setup.tenants)
        let gatehouse = try Gatehouse(snapshot: fileSnapshot, options: options)
        try await gatehouse.start()
        for agent in [a1, a2, g1] { agent.setAssertionJWKSURL("http://127.0.0.1:\(gatehouse.dataPort)/.gatehouse/jwks.json") }
        let h = Harness(group: group, idp: idp, acme: [a1, a2], globex: g1, gatehouse: gatehouse, keyDir: keyDir)
        h.fileSnapshot = fileSnapshot
        h.options = options
        return h
    }

    /// Stops Gatehouse and starts a new one on the same configuration and state (new ports):
    /// what survives is what the store kept.
    func restartGatehouse() async throws {
        await gatehouse.shutdown()
        gatehouse = try Gatehouse(snapshot: fileSnapshot, options: options)
        try await gatehouse.start()
    }

    /// Starts another Gatehouse on the same configuration and store (new ports), as a second
    /// replica behind a load balancer would run — a Kubernetes pod without a shared volume: a
    /// state folder of its own (its own assertion key), sharing only the store and the sealing
    /// key file (by default the first replica's, as one Secret mounted in every pod). The caller
    /// shuts it down.
    func startReplica(sealingKeyFile: String? = nil) async throws -> Gatehouse {
        let replica = try makeReplica(sealingKeyFile: sealingKeyFile)
        try await replica.start()
        return replica
    }

    /// `startReplica` without the start.
    func makeReplica(sealingKeyFile: String? = nil) throws -> Gatehouse {
        var settings = fileSnapshot.settings
        settings.assertion.keyDir = keyDir + "/replica-\(UUID().uuidString)/keys"
        settings.sealingKeyFile = sealingKeyFile ?? settings.sealingKeyFile ?? fileSnapshot.settings.assertion.keyDir + "/flow-token.key"
        let snapshot = ConfigSnapshot(settings: settings, tenants: fileSnapshot.tenantIDs.compactMap { fileSnapshot.tenants[$0] })
        return try Gatehouse(snapshot: snapshot, options: options)
    }

    static func tenant(
        _ id: String, idp: DevIdentityProvider, upstreams: [EchoAgent], hosts: [String] = [], claimsRule: Bool = true
    ) -> Tenant {
        let provider = IdentityProvider(
            name: "dev", issuer: idp.issuer, jwksURI: idp.jwksURL, allowedClients: ["gatehouse-demo"],
            claims: claimsRule ? [ClaimRule(claim: try! ClaimPath("custom:tenant_id"), kind: .equals(.string(id)))] : [])
        return Tenant(
            id: TenantID(id)!, displayName: id.capitalized, match: TenantMatch(hosts: hosts, pathPrefix: "/t/\(id)"),
            idps: [provider], upstreams: upstreams.map { Upstream(url: $0.baseURL)! },
            propagate: Tenant.defaultPropagation + [
                PropagationRule(header: "X-User-Email", source: .claim(try! ClaimPath("email"))),
                PropagationRule(header: "X-Roles", source: .claim(try! ClaimPath("roles"))),
            ])
    }

    func token(_ subject: String = "alice", tenant: String = "acme", scope: String? = nil, roles: [String] = []) -> String {
        idp.mintToken(subject: subject, tenant: tenant, scope: scope, roles: roles)
    }

    func bearer(_ token: String) -> (String, String) { ("Authorization", "Bearer \(token)") }

    /// Every request the agents received, all instances.
    var upstreamRequests: [RecordedRequest] { (acme + [globex]).flatMap { $0.received() } }

    func shutdown() async {
        await gatehouse.shutdown()
        for agent in acme + [globex] { try? await agent.shutdown() }
        try? await idp.shutdown()
        try? await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: keyDir)
    }
}

/// Runs `body` with a started harness and always shuts it down.
func withHarness(
    _ customize: (inout Harness.Setup, DevIdentityProvider, [EchoAgent]) throws -> Void = { _, _, _ in },
    _ body: (Harness) async throws -> Void
) async throws {
    let h = try await Harness.start(customize)
    do {
        try await body(h)
    } catch {
        await h.shutdown()
        throw error
    }
    await h.shutdown()
}

/// Waits for `condition` up to `seconds`, polling; returns whether it became true.
func eventually(within seconds: Double = 10, _ condition: () async -> Bool) async -> Bool {
    let deadline = monotonicSeconds() + seconds
    while monotonicSeconds() < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}

/// A socket bound to 127.0.0.1 on a free port, and that port.
func boundLoopbackSocket() -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

/// A TCP port with nothing listening (connections are refused).
func deadPort() -> Int {
    // The socket stays bound (never listening) for the rest of the test process: a connection
    // to it is refused, and no other test's listener can be given the port. Closing it let the
    // kernel hand the port to a server started moments later, which then answered instead.
    let (_, port) = boundLoopbackSocket()
    return port
}

/// A loopback port nothing listens on right now, for a server the test starts itself (the socket
/// is closed again at once, so another process could take the port meanwhile: use only for
/// servers that report a bind failure).
func freePort() -> Int {
    let (fd, port) = boundLoopbackSocket()
    close(fd)
    return port
}

/// Whether a TCP connection to 127.0.0.1:`port` is accepted.
func canConnect(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// A listening socket that never accepts: connections complete (the kernel's backlog) but no
/// byte ever comes back — an upstream that hangs.
final class BlackHole {
    let fd: Int32
    let port: Int

    init() {
        (fd, port) = boundLoopbackSocket()
        listen(fd, 16)
    }

    deinit { close(fd) }
}

/// Set once by one task, read by another (a shutdown or a process watchdog ended).
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

/// A wall clock tests move by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var offset = 0.0

    var now: WallClock { { [self] in lock.lock(); defer { lock.unlock() }; return SystemWallClock.now() + offset } }

    func advance(_ seconds: Double) {
        lock.lock()
        offset += seconds
        lock.unlock()
    }
}
