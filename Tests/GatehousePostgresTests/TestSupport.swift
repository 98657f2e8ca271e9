import Foundation
import GatehouseCore
import GatehouseSessions
import Logging
import Testing

@testable import GatehousePostgres

/// The PostgreSQL server the tests use: `GATEHOUSE_TEST_POSTGRES_URL`, a user allowed to create
/// schemas. `scripts/test` starts a throw-away server and sets it; without it (plain
/// `swift test`) the PostgreSQL suites are skipped.
enum PostgresTestServer {
    static let environmentVariable = "GATEHOUSE_TEST_POSTGRES_URL"

    static var isConfigured: Bool { !(ProcessInfo.processInfo.environment[environmentVariable] ?? "").isEmpty }

    static let skipReason: Comment = "GATEHOUSE_TEST_POSTGRES_URL is not set (scripts/test starts a server and sets it)"

    /// The admin URL; a set but unusable value fails the test rather than skipping it.
    static func adminURL() throws -> PostgresURL {
        try PostgresURL(parsing: ProcessInfo.processInfo.environment[environmentVariable] ?? "")
    }

    /// A schema of its own for one test in the server's database, dropped by `dropSchema`.
    /// (A schema costs a millisecond; a database is a copy of a template, and dozens of them
    /// at once load a small machine enough to make other tests' deadlines pass.)
    static func createSchema() async throws -> String {
        let name = "gh_test_" + (0..<12).map { _ in String("0123456789abcdefghijklmnopqrstuvwxyz".randomElement()!) }.joined()
        try await PostgresDatabases.createSchema(name, admin: try adminURL())
        return name
    }

    static func dropSchema(_ name: String) async {
        do {
            try await PostgresDatabases.dropSchema(name, admin: try adminURL())
        } catch {
            Issue.record("could not drop test schema \(name): \(error)")
        }
    }

    /// Store options that keep the tables in `schema`.
    static func options(schema: String, maximumConnections: Int = 4) -> PostgresStore.Options {
        var options = PostgresStore.Options()
        options.schema = schema
        options.maximumConnections = maximumConnections
        options.minimumConnections = 0
        return options
    }
}

let tenantA = TenantID("acme")!
let tenantB = TenantID("globex")!
let tokenBytes: [UInt8] = Array("nonce-ciphertext-tag".utf8)

var quietLogger: Logger {
    var logger = Logger(label: "gatehouse.test.postgres")
    logger.logLevel = .error
    return logger
}

func makeBinding(
    tenant: TenantID = tenantA, id: String, header: String = "Mcp-Session-Id", issuedBy: SessionRule.IssuedBy = .server,
    subject: String = "alice", clientID: String? = "client-1", upstream: String? = "127.0.0.1:9000",
    lastSeenAt: Double = 100, expiresAt: Double = 1e10
) -> SessionBinding {
    SessionBinding(
        key: SessionKey(tenant: tenant, header: header, id: id),
        principal: BoundPrincipal(issuer: "https://idp.example.com/", subject: subject, clientID: clientID),
        upstream: upstream, issuedBy: issuedBy, createdAt: 50.125, lastSeenAt: lastSeenAt, expiresAt: expiresAt)
}

func makeFlow(
    tenant: TenantID = tenantA, sessionID: String, startHandle: String? = nil, subject: String = "alice", issuer: String = "https://idp.example.com/",
    clientID: String? = "client-1", createdAt: Double = 1000, expiresAt: Double = 1e10
) -> OAuthFlowRecord {
    OAuthFlowRecord(
        tenant: tenant, sessionID: sessionID,
        principal: BoundPrincipal(issuer: issuer, subject: subject, clientID: clientID),
        authorizationURL: "https://auth.example.com/authorize?state=\(sessionID)",
        startHandle: startHandle ?? "handle-\(tenant)-\(sessionID)", sealedUserToken: tokenBytes,
        createdAt: createdAt, expiresAt: expiresAt)
}

func audit(_ action: String, tenant: TenantID?, actor: String = "operator") -> AuditEntry {
    AuditEntry(tenant: tenant, time: 1000, actor: actor, action: action, target: "t", outcome: "ok")
}

func sameBytes(_ a: String, _ b: String) -> Bool { Array(a.utf8) == Array(b.utf8) }

/// A loopback socket bound to a free port, and that port.
private func boundLoopbackSocket() -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length)
            return getsockname(fd, pointer, &length)
        }
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// A TCP port on loopback with nothing listening (connections are refused).
func deadLoopbackPort() -> Int {
    let (fd, port) = boundLoopbackSocket()
    close(fd)
    return port
}

/// A listening socket that never accepts: connections complete in the kernel's backlog, and
/// not a byte ever comes back — a database that hangs.
final class SilentListener: Sendable {
    let fd: Int32
    let port: Int

    init() {
        (fd, port) = boundLoopbackSocket()
        listen(fd, 64)
    }

    deinit { close(fd) }
}
