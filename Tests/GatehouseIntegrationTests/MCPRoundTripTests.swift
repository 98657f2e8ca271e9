import Foundation
import GatehouseCore
import Testing

/// A real MCP round trip through Gatehouse: the official Python MCP SDK as a stateful
/// streamable-HTTP server behind acme, and as a client through `/t/acme/mcp` (docs/request-path.md "What an agent receives", docs/sessions-and-oauth.md "Session binding", docs/status-codes.md "What Gatehouse answers itself").
/// Needs `python3` with the `mcp` package (`python3 -m pip install mcp`).
@Suite(.serialized) struct MCPRoundTripTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let scripts = repoRoot + "/Tests/mcp"

    @Test func identityReachesARealMCPServerAndSessionsStayWithTheirOwner() async throws {
        // The MCP server picks its own free port (0) and reports it: no port race. It starts
        // while the probe below runs (each Python start-up with the SDK costs about a second).
        let server = try MCPServerProcess.start(script: Self.scripts + "/identity_server.py")
        defer { server.stop() }
        let probe = try await ChildProcess.run(["python3", "-c", "import mcp"], timeout: 30)
        guard probe.status == 0, !probe.timedOut else {
            Issue.record("python3 cannot import the MCP SDK (package `mcp`); install it: `python3 -m pip install mcp` — \(probe.stderr)")
            return
        }
        _ = await eventually(within: 30) { server.port != nil || !server.isRunning }
        let upstreamPort = try #require(server.port, "identity_server.py did not print READY; output: \(server.output)")

        try await withHarness({ setup, _, _ in
            let index = try #require(setup.tenants.firstIndex { $0.id.rawValue == "acme" })
            setup.tenants[index].upstreams = [try #require(Upstream(url: "http://127.0.0.1:\(upstreamPort)"))]
        }) { h in
            let url = "http://127.0.0.1:\(h.gatehouse.dataPort)/t/acme/mcp"
            let alice = h.token("alice")
            let bob = h.token("bob")

            // 1. A real MCP client (initialize + tools/call whoami) through Gatehouse, as alice.
            let call = try await Self.client(["call", url, alice])
            let result = try #require(call["result"], "client output: \(call)")
            #expect(result["user_id"] == .string("alice"))
            #expect(result["tenant_id"] == .string("acme"))
            #expect(result["assertion_present"] == .bool(true))
            let sessionID = try #require(call["session_id"]?.stringValue, "no Mcp-Session-Id reached the client: \(call)")
            #expect(!sessionID.isEmpty)

            // 2. bob (same tenant, valid token) replays alice's session id: 404, never forwarded.
            let replay = try await Self.client(["replay", url, bob, sessionID])
            #expect(replay["status"] == .number("404"), "bob replaying alice's session: \(replay)")
            let body = replay["body"]?.stringValue ?? ""
            let error = (try? JSONParser.parse(body))?["error"]
            #expect(error == .string("session_not_found"), "body: \(body)")
            #expect(!body.contains("alice"), "bob saw alice's session: \(body)")

            // 3. alice reusing her own session still works, and it is still her identity upstream.
            let own = try await Self.client(["replay", url, alice, sessionID])
            let ownStatus = own["status"]
            #expect(ownStatus == .number("200") || ownStatus == .number("202"), "alice reusing her session: \(own)")
            #expect(own["body"]?.stringValue?.contains("alice") == true, "alice reusing her session: \(own)")

            // What reached the MCP server: alice's two calls, never one carrying bob. (Its log is
            // one ordered pipe: once alice's second call shows, any bob call before it has too.)
            let both = await eventually(within: 5) { server.calls.count >= 2 }
            #expect(both, "server log: \(server.output)")
            #expect(server.calls.allSatisfy { $0["user_id"] == .string("alice") }, "server log: \(server.output)")
        }
    }

    /// Runs identity_client.py and parses the one JSON line it prints.
    static func client(_ arguments: [String]) async throws -> JSONValue {
        let run = try await ChildProcess.run(["python3", scripts + "/identity_client.py"] + arguments, timeout: 30)
        #expect(!run.timedOut, "identity_client.py \(arguments[0]) timed out")
        guard run.status == 0, let line = run.stdout.split(separator: "\n").last, let json = try? JSONParser.parse(String(line)) else {
            throw ChildProcess.Failure(description: "identity_client.py \(arguments[0]) failed (\(run.status)): \(run.stdout)\n\(run.stderr)")
        }
        return json
    }
}

/// A short-lived child process run to completion, off the cooperative pool (it blocks while the
/// in-process Gatehouse it talks to needs that pool), killed when it outlives `timeout`.
enum ChildProcess {
    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
        var timedOut: Bool
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    static func run(_ arguments: [String], timeout: Double) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    continuation.resume(returning: try runBlocking(arguments, timeout: timeout))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private static func runBlocking(_ arguments: [String], timeout: Double) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return Result(status: -1, stdout: "", stderr: "cannot start \(arguments[0]): \(error)", timedOut: false)
        }
        let timedOut = Flag()
        let watchdog = DispatchWorkItem {
            if process.isRunning {
                timedOut.set()
                kill(process.processIdentifier, SIGKILL)
            }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        // Both pipes drained concurrently, so neither can fill up and stall the child.
        let stderrData = DataBox()
        let drained = DispatchGroup()
        drained.enter()
        DispatchQueue.global().async {
            stderrData.set(err.fileHandleForReading.readDataToEndOfFile())
            drained.leave()
        }
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        watchdog.cancel()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData.get(), as: UTF8.self), timedOut: timedOut.isSet)
    }

    private final class DataBox: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        func set(_ d: Data) { lock.withLock { data = d } }
        func get() -> Data { lock.withLock { data } }
    }
}

/// `identity_server.py 0` running in the background; `port` once it printed `READY <port>`.
final class MCPServerProcess: @unchecked Sendable {
    private let process = Process()
    private let stdout: LineCollector
    private let stderr: LineCollector

    private init(script: String, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + arguments
        process.standardInput = FileHandle.nullDevice
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        stdout = LineCollector(out.fileHandleForReading)
        stderr = LineCollector(err.fileHandleForReading)
        try process.run()
    }

    /// `python3 script arguments…` (by default `0`: a server that picks its own port).
    static func start(script: String, arguments: [String] = ["0"]) throws -> MCPServerProcess {
        try MCPServerProcess(script: script, arguments: arguments)
    }

    /// The first line of its standard output that starts with `prefix`, without the prefix.
    func line(startingWith prefix: String) -> String? {
        stdout.text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    var isRunning: Bool { process.isRunning }

    var port: Int? {
        for line in stdout.text.split(separator: "\n") where line.hasPrefix("READY ") {
            return Int(line.dropFirst("READY ".count).trimmingCharacters())
        }
        return nil
    }

    /// The identities `whoami` saw, one per call that reached the server (its `WHOAMI` lines).
    var calls: [JSONValue] {
        stdout.text.split(separator: "\n").filter { $0.hasPrefix("WHOAMI ") }.compactMap { try? JSONParser.parse(String($0.dropFirst("WHOAMI ".count))) }
    }

    var output: String { "stdout: \(stdout.text)\nstderr: \(stderr.text)" }

    /// SIGTERM, then SIGKILL if it has not exited within 5 s; waits (bounded) for the exit.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = monotonicSeconds() + 5
        while process.isRunning, monotonicSeconds() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            let hardDeadline = monotonicSeconds() + 5
            while process.isRunning, monotonicSeconds() < hardDeadline { usleep(10_000) }
        }
    }
}
