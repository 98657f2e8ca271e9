import NIOHTTP1
import NIOCore
import GatehouseHTTP
import Foundation
import GatehouseDemo
import NIOPosix

// Helpers for tests that run Gatehouse from real files and processes.

/// Collects a pipe's output in the background.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    init(_ handle: FileHandle) {
        handle.readabilityHandler = { [weak self] h in
            let chunk = h.availableData
            guard let self, !chunk.isEmpty else { return }
            self.lock.lock()
            self.data.append(chunk)
            self.lock.unlock()
        }
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A temporary folder removed at deinit.
final class TempDir {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "gatehouse-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func write(_ relative: String, _ text: String) throws {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

extension TempDir {
    /// A `gatehouse.yaml` for loopback tests: ephemeral admin port, the loopback IdP allowed over
    /// http, keys and the SQLite store under `state/`.
    /// `gatehouse.yaml` for a test instance; `extra` is appended (top-level YAML lines).
    func writeOperatorConfig(listen: String = "127.0.0.1:0", extra: String = "") throws {
        try write("gatehouse.yaml", """
            listen: "\(listen)"
            admin:
              listen: "127.0.0.1:0"
            tenants_dir: tenants
            identity:
              insecure_idp_hosts: ["127.0.0.1"]
            assertion:
              key_dir: state/keys
            store: "sqlite:state/state.sqlite"

            """ + extra)
    }
}

/// A development IdP and one echo agent on loopback, for tests that run Gatehouse from files.
struct LoopbackPeers {
    /// `tenants/acme.yaml`: path prefix `/t/acme`, this IdP (plus `idpExtra` lines of it), this
    /// agent (or `upstream`), plus `extra` YAML lines.
    func writeAcmeTenant(_ dir: TempDir, upstream: String? = nil, idpExtra: String = "", extra: String = "") throws {
        try dir.write("tenants/acme.yaml", """
            id: acme
            match:
              path_prefix: "/t/acme"
            idps:
              - name: dev
                issuer: "\(idp.issuer)"
                jwks_uri: "\(idp.jwksURL)"
                allowed_clients: ["gatehouse-demo"]

            """ + idpExtra + """
            upstreams:
              - url: "\(upstream ?? agent.baseURL)"

            """ + extra)
    }

    let group: MultiThreadedEventLoopGroup
    let idp: DevIdentityProvider
    let agent: EchoAgent

    static func start(agentName: String) async throws -> LoopbackPeers {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let idp = try await DevIdentityProvider.start(group: group)
        let agent = try await EchoAgent.start(group: group, options: .init(name: agentName))
        return LoopbackPeers(group: group, idp: idp, agent: agent)
    }

    func shutdown() async throws {
        try await agent.shutdown()
        try await idp.shutdown()
        try await group.shutdownGracefully()
    }
}

/// Runs blocking work (a child process waited for, a blocking read) on a thread of its own, so
/// that it never holds one of the few threads every test shares: with those held, other tests'
/// timeouts expire while they wait for a turn.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// An `HTTPClient` for tests that are not about timeouts: every call gets long deadlines, so that
/// a full parallel test run on a small machine (dozens of suites starting at once, each making
/// keys) cannot fail a test whose subject is something else.
struct PatientHTTPClient {
    static let options = ClientOptions(timeout: .seconds(60), connectTimeout: .seconds(30))
    let client: HTTPClient

    init(group: any EventLoopGroup) { client = HTTPClient(group: group) }

    func get(url: String, headers: HTTPHeaders = [:]) async throws -> ClientResponse {
        try await client.get(url: url, headers: headers, options: Self.options)
    }

    func send(_ request: ClientRequest) async throws -> ClientResponse {
        try await client.send(request, options: Self.options)
    }
}
