import Foundation
import Testing

/// `gatehouse demo` as a user meets it: the real binary, then the commands its banner prints,
/// pasted into a shell.
@Suite(.serialized) struct DemoCLITests {
    @Test func theBannersCommandsWorkAsPrinted() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLITests.binary)
        process.arguments = ["demo"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }

        // Read until the banner is complete (its last step), bounded.
        let banner = await Task.detached { () -> String in
            var text = ""
            let handle = out.fileHandleForReading
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline, !text.contains("/admin/v1/tenants/globex/idps") {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }.value
        try #require(banner.contains("Gatehouse demo is running"), "\(banner)")

        // Every indented command line of the banner, in order, as one script.
        let commands = banner.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("ALICE=") || $0.hasPrefix("BOB=") || $0.hasPrefix("OP=") || $0.hasPrefix("KEY=") || $0.hasPrefix("curl ") }
        let script = "set -e\n" + commands.map { line in
            // Label each command's output so the test can find it.
            line.hasPrefix("curl") ? "echo '>>> \(line.replacingOccurrences(of: "'", with: ""))'; curl --max-time 5 \(line.dropFirst(5)); echo" : line
        }.joined(separator: "\n")
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/bash")
        shell.arguments = ["-c", script]
        let shellOut = Pipe()
        shell.standardOutput = shellOut
        shell.standardError = FileHandle.nullDevice
        try shell.run()
        let output = String(decoding: shellOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        shell.waitUntilExit()
        #expect(shell.terminationStatus == 0, "\(output)")

        func section(_ marker: String) -> String {
            let parts = output.components(separatedBy: ">>> ")
            return parts.first { $0.contains(marker) } ?? ""
        }
        #expect(section("/t/acme/hello").contains("\"x-user-id\":\"alice\"") || section("/t/acme/hello").lowercased().contains("alice"))
        #expect(section("X-User-Id: mallory").lowercased().contains("alice"))
        #expect(!section("X-User-Id: mallory").contains("\"mallory\""), "the spoofed header never reaches the agent")
        #expect(section("/t/globex/hello").contains("401"))
        #expect(section("sse?count=5").components(separatedBy: "data:").count == 6, "five events")
        #expect(section("/admin/v1/tenants/acme/idps").contains("\"dev-idp\""))
        #expect(section("/admin/v1/tenants/acme/sessions").contains("\"items\""))
        #expect(section("/admin/v1/tenants/globex/idps").contains("403"))
    }
}
