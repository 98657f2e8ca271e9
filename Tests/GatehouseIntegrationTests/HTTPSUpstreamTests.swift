import Foundation
import GatehouseCore
import Testing

/// An `https://` upstream with its own CA (docs/configuration.md "Tenant files", `upstreams`):
/// nginx on loopback serves a certificate for `agent.internal` signed by a CA the test makes.
/// Gatehouse trusts that CA only through the upstream's `ca_file`, and sends `server_name` as SNI
/// and checks the certificate against it.
@Suite(.serialized) struct HTTPSUpstreamTests {
    /// A CA, a server certificate for agent.internal signed by it, and nginx serving it with TLS
    /// on a free loopback port; its answer names the SNI it got and the user Gatehouse propagated.
    final class TLSNginx {
        let dir: TempDir
        let port: Int
        private let process: Process

        var caFile: String { dir.path + "/ca.pem" }

        init() async throws {
            dir = try TempDir()
            let d = dir.path
            for step in [
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                 "-subj", "/CN=Gatehouse Test CA", "-keyout", d + "/ca.key", "-out", d + "/ca.pem"],
                ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=agent.internal",
                 "-keyout", d + "/server.key", "-out", d + "/server.csr"],
            ] {
                let run = try await ChildProcess.run(step, timeout: 60)
                try #require(run.status == 0, "\(step[1]): \(run.stderr)")
            }
            try "subjectAltName=DNS:agent.internal\n".write(toFile: d + "/ext.cnf", atomically: true, encoding: .utf8)
            let sign = try await ChildProcess.run(
                ["openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key", "-CAcreateserial",
                 "-days", "1", "-extfile", d + "/ext.cnf", "-out", d + "/server.pem"], timeout: 60)
            try #require(sign.status == 0, "sign: \(sign.stderr)")

            port = freePort()
            let config = """
                daemon off; master_process off; worker_processes 1; pid \(d)/nginx.pid; error_log \(d)/error.log;
                events { worker_connections 64; }
                http {
                  access_log off;
                  client_body_temp_path \(d); proxy_temp_path \(d); fastcgi_temp_path \(d); uwsgi_temp_path \(d); scgi_temp_path \(d);
                  server {
                    listen 127.0.0.1:\(port) ssl;
                    ssl_certificate \(d)/server.pem; ssl_certificate_key \(d)/server.key;
                    location / { default_type text/plain; return 200 "sni=$ssl_server_name user=$http_x_user_id"; }
                  }
                }
                """
            try config.write(toFile: d + "/nginx.conf", atomically: true, encoding: .utf8)
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
            process.arguments = ["-p", d, "-c", d + "/nginx.conf", "-e", d + "/error.log"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let port = self.port
            let up = await eventually(within: 20) { canConnect(port) }
            try #require(up, "nginx did not start: \((try? String(contentsOfFile: d + "/error.log", encoding: .utf8)) ?? "")")
        }

        /// SIGKILL: the test process may ignore SIGTERM (its signal handling), and a child
        /// inherits ignored signals.
        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    static func withUpstream(
        _ nginx: TLSNginx, caFile: String?, serverName: String?, _ body: (Harness) async throws -> Void
    ) async throws {
        try await withHarness({ setup, _, _ in
            var upstream = try #require(Upstream(url: "https://127.0.0.1:\(nginx.port)"))
            upstream.caFile = caFile
            upstream.serverName = serverName
            setup.tenants[0].upstreams = [upstream]
        }, body)
    }

    @Test func theUpstreamsOwnCAAndServerNameAreUsedAndNothingElseIsTrusted() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") else {
            Issue.record("nginx is not installed (apt-get install nginx)")
            return
        }
        let nginx = try await TLSNginx()
        defer { nginx.stop() }

        try await Self.withUpstream(nginx, caFile: nginx.caFile, serverName: "agent.internal") { h in
            let r = try await h.client.request("GET", "/t/acme/hello", headers: [h.bearer(h.token("alice"))])
            #expect(r.status == 200, "\(r.text)")
            #expect(r.text == "sni=agent.internal user=alice")
        }
        // The system trust store does not know the test's CA: the handshake fails, 502.
        try await Self.withUpstream(nginx, caFile: nil, serverName: "agent.internal") { h in
            let r = try await h.client.request("GET", "/t/acme/hello", headers: [h.bearer(h.token("alice"))])
            #expect(r.status == 502, "\(r.text)")
        }
        // The right CA but another name: the certificate does not match it, 502.
        try await Self.withUpstream(nginx, caFile: nginx.caFile, serverName: "other.internal") { h in
            let r = try await h.client.request("GET", "/t/acme/hello", headers: [h.bearer(h.token("alice"))])
            #expect(r.status == 502, "\(r.text)")
        }
    }
}
