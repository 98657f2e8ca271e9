import Foundation
import GatehouseCore
import Testing

/// The admin API against its own OpenAPI document (`GET /admin/v1/openapi.json`), checked by
/// schemathesis with every check on: each status and body the API answers must be declared,
/// each request the document allows must be accepted, none may fail with a server error. Real
/// path values (the tenant, a registered IdP, an admin key, a bound session) take the requests
/// past 404s. Needs `python3`; `Tests/schemathesis/run.sh` installs schemathesis when missing.
@Suite(.serialized) struct AdminOpenAPIConformanceTests {
    @Test func schemathesisFindsNoDisagreement() async throws {
        try await withAdminHarness { h in
            // A bound session, so that revoking one finds something.
            let session = "schemathesis-session-\(UUID().uuidString.prefix(8))"
            let bound = try await h.client.request(
                "GET", "/t/acme/hello", headers: [h.bearer(h.token("alice")), ("X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", session)])
            #expect(bound.status == 200)
            let script = repositoryRoot + "/Tests/schemathesis/run.sh"
            let env = [
                "ST_MAX_EXAMPLES=10", "ST_SEED=1", "ST_TIMEOUT=400",
                "GATEHOUSE_ST_SESSION_HEADER=X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", "GATEHOUSE_ST_SESSION_ID=\(session)",
            ]
            let run = try await ChildProcess.run(["env"] + env + [script, "http://127.0.0.1:\(h.gatehouse.adminPort)", testOperatorToken], timeout: 480)
            let summary = run.stdout.split(separator: "\n").last { $0.hasPrefix("schemathesis:") } ?? "no summary"
            #expect(run.status == 0, "\(summary)\n\(run.stdout.suffix(6000))\n\(run.stderr.suffix(3000))")
            #expect(summary.contains(" 0 failed"), "\(summary)")
        }
    }
}
