import GatehouseCore
import Testing

@testable import GatehouseConfig

/// `store:` is checked by the parser the PostgreSQL store connects with, so `gatehouse check`
/// refuses what `serve` could not use — without ever repeating the password.
@Suite struct StoreSpecTests {
    @Test func postgresURLsWithASupportedSSLModeAreAccepted() throws {
        for text in [
            "postgres://gh:pw@db.internal:5432/gatehouse",
            "postgresql://gh:pw@db.internal/gatehouse?sslmode=disable",
            "postgres://gh:pw@db.internal/gatehouse?sslmode=require",
            "postgres://gh:pw@db.internal/gatehouse?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        ] {
            #expect(try StoreSpec.parse(text).get() == .postgres(url: text))
        }
    }

    @Test func unusablePostgresURLsAreRefusedWithoutTheirPassword() {
        for text in [
            "postgres://gh:hunter2@db/gatehouse?sslmode=prefer",
            "postgres://gh:hunter2@db/gatehouse?sslmode=verify-everything",
            "postgres://gh:hunter2@db/gatehouse?connect_timeout=5",
            "postgres://gh:hunter2@db",
            "postgres://db/gatehouse",
        ] {
            guard case .failure(let problem) = StoreSpec.parse(text) else {
                Issue.record("accepted \(text)")
                continue
            }
            #expect(!problem.message.contains("hunter2"), "\(problem.message)")
        }
        guard case .failure(let sslmode) = StoreSpec.parse("postgres://gh:hunter2@db/gatehouse?sslmode=prefer") else { return }
        #expect(sslmode.message.contains("sslmode"))
    }
}
