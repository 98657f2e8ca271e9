import Foundation
import GatehouseCore
import Testing

// Child processes the integration tests run: Python scripts (real MCP, WebSocket and TLS peers)
// and command-line tools (openssl), to completion or in the background.

/// The repository's root folder (test scripts live under `Tests/`).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

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

    /// Runs `python3 script arguments…` and returns the last line it printed (failing when it
    /// exits non-zero or prints nothing).
    static func lastLine(_ script: String, _ arguments: [String], timeout: Double) async throws -> String {
        let name = (script as NSString).lastPathComponent
        let run = try await run(["python3", script] + arguments, timeout: timeout)
        #expect(!run.timedOut, "\(name) \(arguments.first ?? "") timed out")
        guard run.status == 0, let line = run.stdout.split(separator: "\n").last else {
            throw Failure(description: "\(name) \(arguments.first ?? "") failed (\(run.status)): \(run.stdout)\n\(run.stderr)")
        }
        return String(line)
    }

    /// `lastLine`, parsed as the one JSON value the script prints.
    static func jsonLine(_ script: String, _ arguments: [String], timeout: Double) async throws -> JSONValue {
        let line = try await lastLine(script, arguments, timeout: timeout)
        guard let json = try? JSONParser.parse(line) else {
            throw Failure(description: "\((script as NSString).lastPathComponent) printed no JSON: \(line)")
        }
        return json
    }

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

/// A Python script running in the background (a test's server or long-lived client); `port` once
/// it printed `READY <port>`.
final class BackgroundProcess: @unchecked Sendable {
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
    static func start(script: String, arguments: [String] = ["0"]) throws -> BackgroundProcess {
        try BackgroundProcess(script: script, arguments: arguments)
    }

    /// The first line of its standard output that starts with `prefix`, without the prefix.
    func line(startingWith prefix: String) -> String? {
        stdout.text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// Every line of its standard output that starts with `prefix`, without the prefix.
    func lines(startingWith prefix: String) -> [String] {
        stdout.text.split(separator: "\n").filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
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

/// The real `gatehouse serve --config DIR/gatehouse.yaml`, started and waited for ("gatehouse
/// serving"), with its stdout (access lines) and stderr (logs) collected.
struct ServedGatehouse {
    let process: Process
    let stdout: LineCollector
    let stderr: LineCollector
    let port: Int
    let adminPort: Int?

    /// `environment` is added to this process's own.
    static func start(_ dir: TempDir, environment: [String: String] = [:]) async throws -> ServedGatehouse {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLITests.binary)
        process.arguments = ["serve", "--config", dir.path + "/gatehouse.yaml"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdout = LineCollector(out.fileHandleForReading)
        let stderr = LineCollector(err.fileHandleForReading)
        try process.run()
        let up = await eventually(within: 20) { stderr.text.contains("gatehouse serving") }
        guard up, let port = CLITests.listenPort(in: stderr.text) else {
            process.terminate()
            throw RawClient.Failure(description: "gatehouse did not start: \(stderr.text)")
        }
        return ServedGatehouse(
            process: process, stdout: stdout, stderr: stderr, port: port, adminPort: CLITests.listenPort(in: stderr.text, field: "admin"))
    }

    /// SIGTERM, and whether it exited within 10 s.
    func stop() async -> Bool {
        if process.isRunning { process.terminate() }
        return await eventually(within: 10) { !process.isRunning }
    }
}
