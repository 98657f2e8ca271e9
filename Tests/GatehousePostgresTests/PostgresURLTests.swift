import GatehouseCore
import Testing

@Suite struct PostgresURLTests {
    @Test func aFullURLIsParsedAndDecoded() throws {
        let url = try PostgresURL(parsing: "postgres://gh%40corp:p%40ss%3Aw%2Frd@DB.Internal:6432/gate%20house?sslmode=verify-full")
        #expect(url.user == "gh@corp")
        #expect(url.password == "p@ss:w/rd")
        #expect(url.host == "db.internal")
        #expect(url.port == 6432)
        #expect(url.database == "gate house")
        #expect(url.sslMode == .verifyFull)
        #expect(url.sslRootCertificate == nil)
    }

    @Test func defaultsArePort5432AndNoTLS() throws {
        let url = try PostgresURL(parsing: "postgresql://gh@127.0.0.1/gatehouse")
        #expect(url.port == 5432)
        #expect(url.password == nil)
        #expect(url.sslMode == .disable)
        let v6 = try PostgresURL(parsing: "postgres://gh:pw@[::1]:5433/gatehouse?sslmode=require")
        #expect(v6.host == "::1")
        #expect(v6.port == 5433)
        #expect(v6.sslMode == .require)
        #expect(v6.description == "postgres://gh:***@[::1]:5433/gatehouse?sslmode=require")
    }

    @Test func everySupportedSSLModeAndARootCertificate() throws {
        for mode in PostgresURL.SSLMode.allCases {
            #expect(try PostgresURL(parsing: "postgres://u:p@h/d?sslmode=\(mode.rawValue)").sslMode == mode)
        }
        let pinned = try PostgresURL(parsing: "postgres://u:p@h/d?sslmode=verify-ca&sslrootcert=%2Fetc%2Fgatehouse%2Fca.pem")
        #expect(pinned.sslRootCertificate == "/etc/gatehouse/ca.pem")
        #expect(pinned.sslMode == .verifyCA)
    }

    @Test func badURLsAreRefusedWithoutRepeatingThem() {
        let bad = [
            "mysql://u:hunter2@h/d",
            "postgres://",
            "postgres://u:hunter2@",
            "postgres://u:hunter2@h",
            "postgres://u:hunter2@h/",
            "postgres://u:hunter2@h/d/e",
            "postgres://hunter2-host/d",
            "postgres://:hunter2@h/d",
            "postgres://u:hunter2@h:0/d",
            "postgres://u:hunter2@h:99999/d",
            "postgres://u:hunter2@h/d?sslmode=prefer",
            "postgres://u:hunter2@h/d?sslmode=allow",
            "postgres://u:hunter2@h/d?sslmode=hunter2",
            "postgres://u:hunter2@h/d?sslmode=",
            "postgres://u:hunter2@h/d?sslmode=require&sslmode=disable",
            "postgres://u:hunter2@h/d?sslrootcert=%2Fca.pem",
            "postgres://u:hunter2@h/d?application_name=x",
            "postgres://u:hunter2@h/d#frag",
            "postgres://u:hunt%zzer2@h/d",
            "postgres://u:hunter2@h/d b",
        ]
        for text in bad {
            #expect(throws: PostgresURL.ParseError.self, "\(text)") { try PostgresURL(parsing: text) }
            do {
                _ = try PostgresURL(parsing: text)
            } catch {
                #expect(!error.message.contains("hunter2"), "\(text): \(error.message)")
            }
        }
    }

    @Test func theDescriptionMasksThePasswordAndTheConnectionStringRoundTrips() throws {
        let url = try PostgresURL(parsing: "postgres://gh:s%3Acret%40x@db:5432/gatehouse?sslmode=verify-full&sslrootcert=%2Fca.pem")
        #expect(!url.description.contains("cret"))
        #expect(url.description.contains("***"))
        #expect(try PostgresURL(parsing: url.connectionString) == url)
        #expect("\(url)" == url.description)
    }
}
