import Foundation
import GatehouseCore
import Testing
@testable import GatehouseConfig

@Suite struct SettingsLoaderTests {
    private func load(_ yaml: String, env: [String: String] = [:], in dir: TemporaryDirectory) throws -> Result<GatehouseSettings, [ConfigProblem]> {
        let file = try dir.write("gatehouse.yaml", yaml)
        return ConfigLoader.loadSettings(configFile: file, environment: env)
    }

    private func paths(_ yaml: String, env: [String: String] = [:]) throws -> [String] {
        let dir = try TemporaryDirectory()
        return try load(yaml, env: env, in: dir).problems.map(\.path)
    }

    @Test func missingFileIsAProblem() throws {
        let dir = try TemporaryDirectory()
        let result = ConfigLoader.loadSettings(configFile: dir.path + "/gatehouse.yaml", environment: [:])
        #expect(result.problems.map(\.description) == ["gatehouse.yaml: file not found"])
    }

    @Test func missingFileAllowedGivesDefaultsResolvedAgainstItsFolder() throws {
        let dir = try TemporaryDirectory()
        let settings = try #require(ConfigLoader.loadSettings(configFile: dir.path + "/gatehouse.yaml", environment: [:], allowMissing: true).value)
        #expect(settings.listen == SocketAddressSpec(host: "127.0.0.1", port: 8080))
        #expect(settings.adminListen == SocketAddressSpec(host: "127.0.0.1", port: 9090))
        #expect(settings.tenantsDir == dir.path + "/tenants")
        #expect(settings.store == .sqlite(path: dir.path + "/.gatehouse/state.sqlite"))
        #expect(settings.assertion.keyDir == dir.path + "/.gatehouse/keys")
        #expect(settings.configFile == nil)
        #expect(settings.operatorToken == nil)
        #expect(settings.protectedPrefixes == ["x-gatehouse-"])
        #expect(settings.identity == IdentitySettings())
        #expect(settings.limits == GlobalLimits())
        #expect(settings.logLevel == .info)
    }

    @Test func tlsNeedsBothReadablePEMFilesResolvedAgainstTheConfigFolder() throws {
        let dir = try TemporaryDirectory()
        _ = try dir.write("certs/cert.pem", "-----BEGIN CERTIFICATE-----\n")
        _ = try dir.write("certs/key.pem", "-----BEGIN PRIVATE KEY-----\n")
        _ = try dir.write("certs/not-pem.txt", "hello")
        let ok = try load("tls:\n  certificate_file: certs/cert.pem\n  key_file: certs/key.pem\n", in: dir)
        #expect(ok.value?.tls == ListenerTLS(certificateFile: dir.path + "/certs/cert.pem", keyFile: dir.path + "/certs/key.pem"))
        #expect(try load("tls:\n  certificate_file: certs/cert.pem\n", in: dir).problems.map(\.path) == ["tls.key_file"])
        #expect(try load("tls:\n  certificate_file: certs/missing.pem\n  key_file: certs/key.pem\n", in: dir).problems.map(\.path) == ["tls.certificate_file"])
        #expect(try load("tls:\n  certificate_file: certs/cert.pem\n  key_file: certs/not-pem.txt\n", in: dir).problems.map(\.path) == ["tls.key_file"])
        #expect(try load("tls:\n  certificate_file: certs/cert.pem\n  key_file: certs/key.pem\n  ciphers: all\n", in: dir).problems.map(\.path) == ["tls.ciphers"])
        #expect(try load("", in: dir).value?.tls == nil)
    }

    @Test func emptyFileGivesDefaults() throws {
        let dir = try TemporaryDirectory()
        let settings = try #require(try load("", in: dir).value)
        #expect(settings.identity.clockSkewSeconds == 60)
        #expect(settings.configFile == dir.path + "/gatehouse.yaml")
    }

    @Test func everyKeyIsRead() throws {
        let dir = try TemporaryDirectory()
        let yaml = """
            listen: ":8443"
            admin: { listen: "[::1]:9443", operator_token_file: "secrets/op" }
            tenants_dir: "conf/tenants"
            store: "postgres://gh:pw@db.internal:5432/gatehouse"
            log_level: DEBUG
            identity:
              clock_skew_seconds: 30
              jwks_cache_seconds: 1200
              jwks_min_refresh_seconds: 10
              jwks_max_stale_seconds: 3600
              max_token_bytes: 16384
              token_cache_entries: 0
              insecure_idp_hosts: ["LocalHost", "127.0.0.1", "[::1]"]
            propagation: { protected_prefixes: ["X_Internal-", "X-Gatehouse-"] }
            assertion: { enabled: false, header: "X-Identity", issuer: "gh", key_dir: "/var/lib/gh/keys", ttl_seconds: 30 }
            limits:
              max_request_body_bytes: 1024
              max_header_bytes: 4096
              upstream_connect_timeout_seconds: 1.5
              upstream_idle_timeout_seconds: 60
              shutdown_grace_seconds: 0
            public_scheme: https
            """
        let s = try #require(try load(yaml, in: dir).value)
        #expect(s.listen == SocketAddressSpec(host: "0.0.0.0", port: 8443))
        #expect(s.adminListen == SocketAddressSpec(host: "::1", port: 9443))
        #expect(s.operatorTokenFile == dir.path + "/secrets/op")
        #expect(s.tenantsDir == dir.path + "/conf/tenants")
        #expect(s.store == .postgres(url: "postgres://gh:pw@db.internal:5432/gatehouse"))
        #expect(s.logLevel == .debug)
        #expect(s.identity.clockSkewSeconds == 30)
        #expect(s.identity.jwksCacheSeconds == 1200)
        #expect(s.identity.jwksMinRefreshSeconds == 10)
        #expect(s.identity.jwksMaxStaleSeconds == 3600)
        #expect(s.identity.maxTokenBytes == 16384)
        #expect(s.identity.tokenCacheEntries == 0)
        #expect(s.identity.insecureIdPHosts == ["localhost", "127.0.0.1", "::1"])
        #expect(s.protectedPrefixes == ["x-internal-", "x-gatehouse-"])
        #expect(s.assertion.enabled == false)
        #expect(s.assertion.header == "X-Identity")
        #expect(s.assertion.issuer == "gh")
        #expect(s.assertion.keyDir == "/var/lib/gh/keys")
        #expect(s.assertion.ttlSeconds == 30)
        #expect(s.limits.maxRequestBodyBytes == 1024)
        #expect(s.limits.maxHeaderBytes == 4096)
        #expect(s.limits.upstreamConnectTimeoutSeconds == 1.5)
        #expect(s.limits.upstreamIdleTimeoutSeconds == 60)
        #expect(s.limits.shutdownGraceSeconds == 0)
        #expect(s.publicScheme == "https")
        #expect(GatehouseSettings().publicScheme == nil)
        #expect(GatehouseSettings().limits.shutdownGraceSeconds == 15)
    }

    @Test func relativePathsAreRelativeToTheConfigFolderNotTheWorkingDirectory() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("etc/gatehouse.yaml", """
            tenants_dir: "../tenants"
            store: "sqlite:./data/state.sqlite"
            admin: { operator_token_file: "token" }
            assertion: { key_dir: "keys" }
            """)
        let s = try #require(ConfigLoader.loadSettings(configFile: file, environment: [:]).value)
        #expect(s.tenantsDir == dir.path + "/tenants")
        #expect(s.store == .sqlite(path: dir.path + "/etc/data/state.sqlite"))
        #expect(s.operatorTokenFile == dir.path + "/etc/token")
        #expect(s.assertion.keyDir == dir.path + "/etc/keys")
        #expect(s.configFile == dir.path + "/etc/gatehouse.yaml")
    }

    @Test func environmentOverridesWinOverTheFile() throws {
        let dir = try TemporaryDirectory()
        let env = [
            "GATEHOUSE_LISTEN": "0.0.0.0:80",
            "GATEHOUSE_ADMIN_LISTEN": "127.0.0.1:19090",
            "GATEHOUSE_STORE": "sqlite:env.sqlite",
            "GATEHOUSE_TENANTS_DIR": "/srv/tenants",
            "GATEHOUSE_OPERATOR_TOKEN": "  from-env-token\n",
            "GATEHOUSE_LOG_LEVEL": "warning",
        ]
        try dir.write("token", "from-file-token")
        let s = try #require(try load("""
            listen: "127.0.0.1:8080"
            admin: { listen: "127.0.0.1:9090", operator_token_file: "token" }
            store: "sqlite:file.sqlite"
            tenants_dir: tenants
            log_level: error
            """, env: env, in: dir).value)
        #expect(s.listen == SocketAddressSpec(host: "0.0.0.0", port: 80))
        #expect(s.adminListen == SocketAddressSpec(host: "127.0.0.1", port: 19090))
        #expect(s.store == .sqlite(path: dir.path + "/env.sqlite"))
        #expect(s.tenantsDir == "/srv/tenants")
        #expect(s.operatorToken == "from-env-token")
        #expect(s.operatorTokenFile == nil)
        #expect(s.logLevel == .warning)
    }

    @Test func emptyEnvironmentVariablesCountAsUnset() throws {
        let dir = try TemporaryDirectory()
        let s = try #require(try load("listen: \"127.0.0.1:8081\"", env: ["GATEHOUSE_LISTEN": "", "GATEHOUSE_OPERATOR_TOKEN": " "], in: dir).value)
        #expect(s.listen.port == 8081)
        #expect(s.operatorToken == nil)
    }

    @Test func badEnvironmentOverridesAreReportedAsEnvironment() throws {
        let dir = try TemporaryDirectory()
        let problems = try load("", env: ["GATEHOUSE_LISTEN": "nonsense", "GATEHOUSE_STORE": "mysql://x", "GATEHOUSE_LOG_LEVEL": "loud"], in: dir).problems
        #expect(problems.map(\.file) == ["environment", "environment", "environment"])
        #expect(problems.map(\.path) == ["GATEHOUSE_LISTEN", "GATEHOUSE_STORE", "GATEHOUSE_LOG_LEVEL"])
    }

    @Test func operatorTokenIsReadFromItsFileTrimmed() throws {
        let dir = try TemporaryDirectory()
        try dir.write(".gatehouse/operator-token", "  s3cr3t-token\n\n")
        let s = try #require(try load("admin: { operator_token_file: \".gatehouse/operator-token\" }", in: dir).value)
        #expect(s.operatorToken == "s3cr3t-token")
        #expect(s.operatorTokenFile == dir.path + "/.gatehouse/operator-token")
    }

    @Test func emptyOrMissingTokenFileMeansNoToken() throws {
        let dir = try TemporaryDirectory()
        let missing = try #require(try load("admin: { operator_token_file: absent }", in: dir).value)
        #expect(missing.operatorToken == nil)
        #expect(missing.operatorTokenFile == dir.path + "/absent")
        try dir.write("empty", "\n")
        let empty = try #require(try load("admin: { operator_token_file: empty }", in: dir).value)
        #expect(empty.operatorToken == nil)
    }

    @Test func tokenFileThatIsADirectoryIsAProblem() throws {
        let dir = try TemporaryDirectory()
        try dir.write("tokendir/x", "")
        let problems = try load("admin: { operator_token_file: tokendir }", in: dir).problems
        #expect(problems.map(\.description) == ["tokendir: is a directory, not a file"])
    }

    @Test func tokenWithInnerSpacesIsRefused() throws {
        let dir = try TemporaryDirectory()
        try dir.write("token", "two words")
        #expect(try load("admin: { operator_token_file: token }", in: dir).problems.count == 1)
    }

    @Test func unknownKeysAreErrorsAtEveryLevel() throws {
        #expect(try paths("listne: \":1\"") == ["listne"])
        #expect(try paths("identity: { clock_skew: 5 }") == ["identity.clock_skew"])
        #expect(try paths("admin: { token_file: x }") == ["admin.token_file"])
        #expect(try paths("assertion: { headr: X-A }") == ["assertion.headr"])
        #expect(try paths("limits: { max_body: 1 }") == ["limits.max_body"])
        #expect(try paths("propagation: { prefixes: [] }") == ["propagation.prefixes"])
    }

    @Test func unknownKeySuggestsTheKnownOne() throws {
        let dir = try TemporaryDirectory()
        let problems = try load("tenant_dir: x", in: dir).problems
        #expect(problems.map(\.description) == ["gatehouse.yaml: tenant_dir: unknown key (did you mean tenants_dir?)"])
    }

    @Test func shortenedKeySuggestsTheFullOne() throws {
        let dir = try TemporaryDirectory()
        let problems = try load("identity: { clock_skew: 5 }", in: dir).problems
        #expect(problems.map(\.message) == ["unknown key (did you mean clock_skew_seconds?)"])
    }

    @Test func listenAddressesMustParse() throws {
        #expect(try paths("listen: \"localhost\"") == ["listen"])
        #expect(try paths("listen: \"127.0.0.1:99999\"") == ["listen"])
        #expect(try paths("admin: { listen: 9090 }") == ["admin.listen"])
    }

    @Test func storeMustBeSqliteOrPostgres() throws {
        #expect(try paths("store: \"mysql://db/x\"") == ["store"])
        #expect(try paths("store: \"sqlite:\"") == ["store"])
        #expect(try paths("store: \"postgres://\"") == ["store"])
    }

    @Test func storeProblemsNeverRepeatThePassword() throws {
        let dir = try TemporaryDirectory()
        let problems = try load("store: \"postgres://user:hunter2@\"", in: dir).problems
        #expect(problems.count == 1)
        #expect(!problems[0].description.contains("hunter2"))
    }

    @Test func numbersMustBePositiveAndInRange() throws {
        #expect(try paths("identity: { jwks_min_refresh_seconds: 0 }") == ["identity.jwks_min_refresh_seconds"])
        #expect(try paths("identity: { jwks_cache_seconds: -1 }") == ["identity.jwks_cache_seconds"])
        #expect(try paths("identity: { clock_skew_seconds: -5 }") == ["identity.clock_skew_seconds"])
        #expect(try paths("identity: { max_token_bytes: 0 }") == ["identity.max_token_bytes"])
        #expect(try paths("identity: { token_cache_entries: -1 }") == ["identity.token_cache_entries"])
        #expect(try paths("assertion: { ttl_seconds: 0 }") == ["assertion.ttl_seconds"])
        #expect(try paths("limits: { max_request_body_bytes: 0 }") == ["limits.max_request_body_bytes"])
        #expect(try paths("limits: { upstream_connect_timeout_seconds: 0 }") == ["limits.upstream_connect_timeout_seconds"])
        #expect(try paths("limits: { upstream_idle_timeout_seconds: -3 }") == ["limits.upstream_idle_timeout_seconds"])
        #expect(try paths("limits: { shutdown_grace_seconds: 3601 }") == ["limits.shutdown_grace_seconds"])
        #expect(try paths("public_scheme: HTTPS://") == ["public_scheme"])
    }

    @Test func wrongTypesAreReported() throws {
        let dir = try TemporaryDirectory()
        let problems = try load("identity: { clock_skew_seconds: \"60\" }\nassertion: { enabled: \"yes\" }", in: dir).problems
        #expect(problems.map(\.path) == ["identity.clock_skew_seconds", "assertion.enabled"])
        #expect(problems[0].message == "expected a whole number, found a string")
        #expect(problems[1].message == "expected true or false, found a string")
    }

    @Test func assertionHeaderMustBeAValidSettableHeader() throws {
        #expect(try paths("assertion: { header: \"Bad Header\" }") == ["assertion.header"])
        #expect(try paths("assertion: { header: Authorization }") == ["assertion.header"])
    }

    @Test func logLevelMustBeKnown() throws {
        #expect(try paths("log_level: verbose") == ["log_level"])
    }

    @Test func insecureHostsAreHostNamesOnly() throws {
        #expect(try paths("identity: { insecure_idp_hosts: [\"http://localhost\"] }") == ["identity.insecure_idp_hosts[0]"])
        #expect(try paths("identity: { insecure_idp_hosts: [\"localhost:8080\"] }") == ["identity.insecure_idp_hosts[0]"])
    }

    @Test func protectedPrefixesMustBeHeaderText() throws {
        #expect(try paths("propagation: { protected_prefixes: [\"X Bad\"] }") == ["propagation.protected_prefixes[0]"])
    }

    @Test func invalidYAMLIsAFileProblemWithALine() throws {
        let dir = try TemporaryDirectory()
        let problems = try load("listen: [unclosed\n", in: dir).problems
        #expect(problems.count == 1)
        #expect(problems[0].path == "")
        #expect(problems[0].message.hasPrefix("invalid YAML at line"))
    }
}
