import Foundation
import GatehouseCore
import GatehouseDemo
import NIOPosix
import Testing

/// The real `gatehouse` binary, driven from outside as an operator would (docs/configuration.md "Commands", docs/observability.md "Observability").
@Suite(.serialized) struct CLITests {
    static let repoRoot = repositoryRoot
    static var binary: String { repoRoot + "/.build/debug/gatehouse" }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Run {
        try await runToEnd(binary, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
    }

    /// Runs a short-lived program with exactly `environment` to its end, collecting its output.
    /// The waiting happens on a thread of its own: a test blocking the shared test threads stalls
    /// every other test (and their timeouts expire).
    static func runToEnd(_ executable: String, _ arguments: [String], environment: [String: String]) async throws -> Run {
        try await onOwnThread { try runToEndBlocking(executable, arguments, environment: environment) }
    }

    private static func runToEndBlocking(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func versionPrintsTheVersion() async throws {
        let r = try await Self.run(["version"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("gatehouse "))
    }

    @Test func checkAcceptsTheRepositorysOwnExamples() async throws {
        let r = try await Self.run(["check", "--config", Self.repoRoot + "/gatehouse.yaml"])
        #expect(r.status == 0)
        #expect(r.stdout == "ok: 2 tenants\n")
        let agentcore = try await Self.run(["check", "--config", Self.repoRoot + "/examples/agentcore/gatehouse.yaml"])
        #expect(agentcore.status == 0, "\(agentcore.stdout)")
    }

    @Test func checkAndServeReportEveryProblemAsFileKeyPathMessage() async throws {
        let dir = try TempDir()
        try dir.write("gatehouse.yaml", "listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\ntenants_dir: tenants\n")
        try dir.write("tenants/acme.yaml", "id: acme\nidps:\n  - name: c\n    issuer: \"https://i.example\"\n    jwks_uri: \"https://i.example/jwks\"\nupstreams: []\n")
        let check = try await Self.run(["check", "--config", dir.path + "/gatehouse.yaml"])
        #expect(check.status == 1)
        #expect(check.stdout.contains("tenants/acme.yaml: idps[0].allowed_clients: "))
        #expect(check.stdout.contains("tenants/acme.yaml: upstreams: "))
        // A bad config never starts a half-working proxy: same messages, non-zero exit.
        let serve = try await Self.run(["serve", "--config", dir.path + "/gatehouse.yaml"])
        #expect(serve.status != 0)
        #expect(serve.stderr.contains("tenants/acme.yaml: idps[0].allowed_clients: "))
    }

    /// The case from the field: a typo in `gatehouse.yaml` used to hide both tenant files' problems.
    @Test func checkAndServeReportTheProblemsOfEveryFileInOneRun() async throws {
        let dir = try TempDir()
        try dir.write("gatehouse.yaml", "listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\nidentity:\n  clock_skew_secnds: 30\n")
        try dir.write("tenants/acme.yaml", """
            id: acme
            idps:
              - name: main
                issuer: "/oauth2/acme"
                jwks_uri: "https://idp.example.com/jwks.json"
                allowed_clients: [client-1]
            upstreams:
              - url: "http://127.0.0.1:7001"

            """)
        try dir.write("tenants/globex.yaml", "id: globex\nupstreams: []\n")
        let expected = """
            gatehouse.yaml: identity.clock_skew_secnds: unknown key (did you mean clock_skew_seconds?)
            tenants/acme.yaml: idps[0].issuer: must be an absolute URL (e.g. "https://idp.example.com/"), exactly as the tokens' iss claim
            tenants/globex.yaml: upstreams: must list at least one upstream

            """
        let check = try await Self.run(["check", "--config", dir.path + "/gatehouse.yaml"])
        #expect(check.status == 1)
        #expect(check.stdout == expected)
        let serve = try await Self.run(["serve", "--config", dir.path + "/gatehouse.yaml"])
        #expect(serve.status != 0)
        #expect(serve.stderr == expected)
    }

    @Test func unknownCommandsPrintUsage() async throws {
        let r = try await Self.run(["frobnicate"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("usage: gatehouse"))
    }

    /// `serve` for real: env overrides, tokens and query strings never in any log, a broken
    /// tenant file on SIGHUP keeps the old configuration, SIGTERM stops it cleanly.
    @Test func serveLogsNoSecretsAndSurvivesABrokenReload() async throws {
        let peers = try await LoopbackPeers.start(agentName: "cli-agent")
        let (idp, agent) = (peers.idp, peers.agent)
        let dir = try TempDir()
        try dir.writeOperatorConfig(listen: "127.0.0.1:1")
        try peers.writeAcmeTenant(dir)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve", "--config", dir.path + "/gatehouse.yaml"]
        // The environment wins over the file (the file's port 1 would fail to bind).
        let operatorToken = "SECRETOPERATOR" + String(repeating: "0", count: 30)
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["GATEHOUSE_LISTEN": "127.0.0.1:0", "GATEHOUSE_OPERATOR_TOKEN": operatorToken, "GATEHOUSE_LOG_LEVEL": "debug"]) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stderrLog = LineCollector(err.fileHandleForReading)
        let stdoutLog = LineCollector(out.fileHandleForReading)
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let serving = await eventually(within: 20) { stderrLog.text.contains("gatehouse serving") }
        #expect(serving, "stderr: \(stderrLog.text)")
        let port = try #require(Self.listenPort(in: stderrLog.text))
        let client = RawClient(port: port)
        let token = idp.mintToken()
        let ok = try await client.request("GET", "/t/acme/hello?api_key=SECRETQUERY", headers: [("Authorization", "Bearer \(token)"), ("Cookie", "session=SECRETCOOKIE")])
        #expect(ok.status == 200)
        let refused = try await client.request("GET", "/t/acme/x?code=SECRETQUERY2", headers: [("Authorization", "Bearer \(token)x")])
        #expect(refused.status == 401)
        let start = try await client.request("GET", "/.gatehouse/oauth/start/SECRETHANDLE0123456789abcdefghijklmnopqrstuvw")
        #expect(start.status == 404)

        // The admin API: the operator token, a tenant key and session ids never reach a log either.
        let admin = RawClient(port: try #require(Self.listenPort(in: stderrLog.text, field: "admin")))
        let created = try await admin.request("POST", "/admin/v1/tenants/acme/keys", headers: [("Authorization", "Bearer \(operatorToken)")])
        #expect(created.status == 201)
        let key = try #require(created.json?["key"]?.stringValue)
        #expect(try await admin.request("GET", "/admin/v1/tenants/acme/idps", headers: [("Authorization", "Bearer \(key)")]).status == 200)
        #expect(try await admin.request("GET", "/admin/v1/tenants/acme/idps", headers: [("Authorization", "Bearer \(key)x")]).status == 401)
        let session = try await admin.request(
            "DELETE", "/admin/v1/tenants/acme/sessions/mcp-session-id/SECRETSESSION0001", headers: [("Authorization", "Bearer \(key)")])
        #expect(session.status == 404)

        // A broken tenant file: the reload is refused and the old configuration keeps serving.
        try dir.write("tenants/acme.yaml", "id: acme\nupstreams: [\n")
        kill(process.processIdentifier, SIGHUP)
        let refusedReload = await eventually(within: 10) { stderrLog.text.contains("reload refused") }
        #expect(refusedReload)
        let still = try await client.request("GET", "/t/acme/again", headers: [("Authorization", "Bearer \(token)")])
        #expect(still.status == 200)

        process.terminate()  // SIGTERM
        let exited = await eventually(within: 10) { !process.isRunning }
        #expect(exited)
        #expect(process.terminationStatus == 0)

        let access = await eventually { stdoutLog.text.contains("/t/acme/again") }
        #expect(access)
        let everything = stdoutLog.text + stderrLog.text
        #expect(!everything.contains(token.prefix(30)), "a token reached a log")
        #expect(!everything.contains("SECRETQUERY"), "a query string reached a log")
        #expect(!everything.contains("SECRETCOOKIE"), "a cookie reached a log")
        #expect(!everything.contains("SECRETHANDLE"), "a flow start handle reached a log")
        #expect(!everything.contains("SECRETOPERATOR"), "the operator token reached a log")
        #expect(!everything.contains(key.suffix(43)), "a tenant admin key reached a log")
        #expect(!everything.contains("SECRETSESSION"), "a session id reached a log")
        #expect(everything.contains("admin request refused"), "refused admin calls are logged")
        // One JSON access line per request, with the fields docs/observability.md "The access log" names.
        let lines = stdoutLog.text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
        let accessLines = lines.filter { $0["type"] == .string("access") }
        #expect(accessLines.count == 4)
        let first = try #require(accessLines.first)
        for field in ["time", "request_id", "tenant", "method", "path", "status", "duration_ms", "upstream", "bytes_in", "bytes_out"] {
            #expect(first[field] != nil, "access log lacks \(field)")
        }
        #expect(first["path"] == .string("/t/acme/hello"))
        #expect(first["status"] == .number("200"))
        #expect(first["upstream"] == .string("127.0.0.1:\(agent.port)"))

        try await peers.shutdown()
    }

    static func listenPort(in log: String, field: String = "listen") -> Int? {
        for line in log.split(separator: "\n") where line.contains("gatehouse serving") {
            guard let json = try? JSONParser.parse(String(line)), let listen = json[field]?.stringValue,
                let colon = listen.lastIndex(of: ":")
            else { continue }
            return Int(listen[listen.index(after: colon)...])
        }
        return nil
    }
}
