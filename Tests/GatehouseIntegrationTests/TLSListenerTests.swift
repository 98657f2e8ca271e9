import Foundation
import GatehouseCore
import Testing

/// The TLS listener (docs/configuration.md "TLS"): sessions resume on TLS 1.2 and 1.3, ECDSA and
/// RSA certificates both serve, and a certificate replaced on disk is taken on reload (SIGHUP)
/// for new connections without dropping those open; a broken file keeps the old one. Python's
/// ssl module (OpenSSL) is the client.
@Suite(.serialized) struct TLSListenerTests {
    static let script = repositoryRoot + "/Tests/tls/tls_client.py"

    /// A self-signed certificate for localhost: `ec` (P-256) or `rsa` (2048 bits).
    static func makeCertificate(_ kind: String, certificate: String, key: String) async throws {
        let options = kind == "ec" ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] : ["-newkey", "rsa:2048"]
        let run = try await ChildProcess.run(
            ["openssl", "req", "-x509"] + options + [
                "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout", key, "-out", certificate,
            ], timeout: 60)
        try #require(run.status == 0, "openssl: \(run.stderr)")
    }

    static func client(_ arguments: [String]) async throws -> String {
        try await ChildProcess.lastLine(script, arguments, timeout: 60)
    }

    static func withTLSHarness(_ kind: String, _ body: (Harness, TempDir) async throws -> Void) async throws {
        let dir = try TempDir()
        try await makeCertificate(kind, certificate: dir.path + "/cert.pem", key: dir.path + "/key.pem")
        try await withHarness({ setup, _, _ in
            setup.settings.tls = ListenerTLS(certificateFile: dir.path + "/cert.pem", keyFile: dir.path + "/key.pem")
        }) { h in
            try await body(h, dir)
        }
    }

    @Test(arguments: ["ec", "rsa"])
    func sessionsResumeOnTLS12And13(_ kind: String) async throws {
        try await Self.withTLSHarness(kind) { h, _ in
            for version in ["1.2", "1.3"] {
                let line = try await Self.client(["resume", String(h.gatehouse.dataPort), h.token(), version])
                let result = try JSONParser.parse(line)
                #expect(result["version"] == .string("TLSv" + version), "\(line)")
                #expect(result["status"] == .number("200"), "\(line)")
                #expect(result["second_status"] == .number("200"), "\(line)")
                #expect(result["second_reused"] == .bool(true), "no resumption on TLS \(version) with \(kind): \(line)")
            }
        }
    }

    @Test func aReloadTakesTheNewCertificateAndKeepsOpenConnections() async throws {
        try await Self.withTLSHarness("ec") { h, dir in
            let port = String(h.gatehouse.dataPort)
            let go = dir.path + "/go"
            let held = try BackgroundProcess.start(script: Self.script, arguments: ["hold", port, h.token(), go])
            defer { held.stop() }
            _ = await eventually(within: 30) { held.line(startingWith: "FIRST ") != nil || !held.isRunning }
            let first = try #require(held.line(startingWith: "FIRST "), "\(held.output)").split(separator: " ")
            #expect(first.first == "200")
            let before = String(first.last ?? "")

            // The files are replaced (an RSA pair this time), then the reload.
            try await Self.makeCertificate("rsa", certificate: dir.path + "/new-cert.pem", key: dir.path + "/new-key.pem")
            _ = rename(dir.path + "/new-key.pem", dir.path + "/key.pem")
            _ = rename(dir.path + "/new-cert.pem", dir.path + "/cert.pem")
            #expect(h.gatehouse.reloadTLS())
            let after = try await Self.client(["fingerprint", port])
            #expect(after != before, "a new connection still got the old certificate")

            // The connection opened before the reload still works.
            FileManager.default.createFile(atPath: go, contents: Data())
            _ = await eventually(within: 30) { held.line(startingWith: "SECOND ") != nil || !held.isRunning }
            #expect(held.line(startingWith: "SECOND ") == "200", "\(held.output)")

            // A broken certificate file: refused, and the working pair stays in use.
            try "not a certificate".write(toFile: dir.path + "/cert.pem", atomically: true, encoding: .utf8)
            #expect(!h.gatehouse.reloadTLS())
            #expect(try await Self.client(["fingerprint", port]) == after)
        }
    }
}
