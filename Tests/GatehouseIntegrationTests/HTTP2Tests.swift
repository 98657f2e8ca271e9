import Foundation
import GatehouseCore
import Testing

/// HTTP/2 and TLS on the data-plane listener, driven by curl (built with nghttp2): h2c with prior
/// knowledge and HTTP/1.1 on the cleartext port; ALPN `h2` and `http/1.1` with TLS.
@Suite(.serialized) struct HTTP2Tests {
    struct Curl {
        var status: Int32
        var output: String
    }

    /// Runs curl with `arguments`; `-w` output is appended after a marker line.
    static func curl(_ arguments: [String]) async throws -> Curl {
        try await onOwnThread { try curlBlocking(arguments) }
    }

    private static func curlBlocking(_ arguments: [String]) throws -> Curl {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-s", "--max-time", "10"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Curl(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    static let writeOut = ["-w", "\n%{http_version} %{http_code}"]

    @Test func h2cWithPriorKnowledgeAndHTTP1ShareTheCleartextPort() async throws {
        try await withHarness { h in
            let base = "http://127.0.0.1:\(h.gatehouse.dataPort)"
            let token = h.token("alice")
            let h2 = try await Self.curl(["--http2-prior-knowledge", "-H", "Authorization: Bearer \(token)", "-H", "X-User-Id: mallory", base + "/t/acme/hello"] + Self.writeOut)
            #expect(h2.output.hasSuffix("\n2 200"), "\(h2.output)")
            let forwarded = try #require(h.acme.flatMap { $0.received() }.last)
            #expect(forwarded.header("X-User-Id") == "alice", "identity propagated, spoofed header stripped, over HTTP/2")
            #expect(forwarded.header("X-Forwarded-Proto") == "http")

            let refused = try await Self.curl(["--http2-prior-knowledge", base + "/t/acme/hello"] + Self.writeOut)
            #expect(refused.output.hasSuffix("\n2 401"))
            #expect(refused.output.contains("\"error\""))

            let h1 = try await Self.curl(["--http1.1", "-H", "Authorization: Bearer \(token)", base + "/t/acme/hello"] + Self.writeOut)
            #expect(h1.output.hasSuffix("\n1.1 200"), "\(h1.output)")

            // Many concurrent streams on one connection, each authorised on its own (h2load, from
            // nghttp2-client: 24 requests, 1 connection, 12 streams at a time).
            let loadText = try await onOwnThread { () throws -> String in
                let load = Process()
                load.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                load.arguments = ["h2load", "-n", "24", "-c", "1", "-m", "12", "-H", "Authorization: Bearer \(token)", base + "/t/acme/streams"]
                let loadOut = Pipe()
                load.standardOutput = loadOut
                try load.run()
                let text = String(decoding: loadOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                load.waitUntilExit()
                return text
            }
            #expect(loadText.contains("status codes: 24 2xx"), "\(loadText)")
            let streamed = h.acme.flatMap { $0.received() }.filter { $0.uri == "/streams" }
            #expect(streamed.count == 24 && streamed.allSatisfy { $0.header("X-User-Id") == "alice" })
        }
    }

    @Test func serverSentEventsStreamEventByEventOverHTTP2() async throws {
        try await withHarness { h in
            let token = h.token("bob", tenant: "globex")
            let port = h.gatehouse.dataPort
            let arrivals = try await onOwnThread { () throws -> [(at: Double, text: String)] in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = [
                    "curl", "-sN", "--max-time", "10", "--http2-prior-knowledge", "-H", "Authorization: Bearer \(token)",
                    "http://127.0.0.1:\(port)/t/globex/sse?count=3&interval_ms=400",
                ]
                let out = Pipe()
                process.standardOutput = out
                try process.run()
                var arrivals: [(at: Double, text: String)] = []
                let handle = out.fileHandleForReading
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    arrivals.append((monotonicSeconds(), String(decoding: chunk, as: UTF8.self)))
                }
                process.waitUntilExit()
                return arrivals
            }
            let text = arrivals.map(\.text).joined()
            #expect(text.components(separatedBy: "data:").count == 4, "\(text)")
            // Each event arrived on its own, well before the stream ended.
            #expect(arrivals.count >= 3, "\(arrivals.map(\.text))")
            if let first = arrivals.first, let last = arrivals.last { #expect(last.at - first.at >= 0.3) }
        }
    }

    @Test func tlsNegotiatesH2OrHTTP1WithALPN() async throws {
        let dir = try TempDir()
        let folder = dir.path
        let made = try await onOwnThread { () throws -> Int32 in
            let make = Process()
            make.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            make.arguments = [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout", folder + "/key.pem", "-out", folder + "/cert.pem",
            ]
            make.standardError = FileHandle.nullDevice
            try make.run()
            make.waitUntilExit()
            return make.terminationStatus
        }
        try #require(made == 0)

        try await withHarness({ setup, _, _ in
            setup.settings.tls = ListenerTLS(certificateFile: dir.path + "/cert.pem", keyFile: dir.path + "/key.pem")
        }) { h in
            let base = "https://127.0.0.1:\(h.gatehouse.dataPort)"
            let auth = ["-H", "Authorization: Bearer \(h.token("alice"))"]
            let h2 = try await Self.curl(["--cacert", dir.path + "/cert.pem", "--http2"] + auth + [base + "/t/acme/hello"] + Self.writeOut)
            #expect(h2.output.hasSuffix("\n2 200"), "\(h2.output)")
            #expect(h.acme.flatMap { $0.received() }.last?.header("X-Forwarded-Proto") == "https")
            let h1 = try await Self.curl(["--cacert", dir.path + "/cert.pem", "--http1.1"] + auth + [base + "/t/acme/hello"] + Self.writeOut)
            #expect(h1.output.hasSuffix("\n1.1 200"), "\(h1.output)")
            // Cleartext on the TLS port gets nowhere.
            let plain = try await Self.curl(["http://127.0.0.1:\(h.gatehouse.dataPort)/t/acme/hello"] + Self.writeOut)
            #expect(!plain.output.hasSuffix(" 200"))
        }
    }
}
