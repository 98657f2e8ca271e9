import GatehouseCore
import NIOCore
import NIOSSL
import PostgresNIO

extension PostgresStore {
    /// Tuning of the connection pool and of how long a call may wait.
    public struct Options: Sendable {
        /// Connections the pool may open to the server (per Gatehouse replica).
        public var maximumConnections: Int = 10
        /// Connections kept open while idle, so that a request after a quiet spell does not pay
        /// for a TCP and TLS handshake.
        public var minimumConnections: Int = 1
        /// How long opening one connection (TCP, TLS, login) may take.
        public var connectTimeout: Duration = .seconds(5)
        /// How long one store call may take before it fails with `.timedOut`.
        public var operationTimeout: Duration = .seconds(5)
        /// The limit instead while the last call found the database unreachable.
        public var outageTimeout: Duration = .seconds(1)
        /// How long the schema migration at start may take (it may wait for another replica's).
        public var migrationTimeout: Duration = .seconds(60)
        /// How long `ping()` waits before reporting the store unreachable.
        public var pingTimeout: Duration = .seconds(2)
        /// The schema the tables live in, instead of the user's default search path. Tests give
        /// each case a schema of its own (far cheaper than a database each).
        package var schema: String?

        public init() {}
    }

    /// What every session sends at login: its name, the schema if one is set, and READ
    /// COMMITTED, the isolation the store's statements are written for (on a server whose
    /// default is SERIALIZABLE, racing statements would fail instead of waiting for each other).
    static func startupParameters(_ options: Options) -> [(String, String)] {
        var parameters = [("application_name", "gatehouse"), ("default_transaction_isolation", "read committed")]
        if let schema = options.schema { parameters.append(("search_path", schema)) }
        return parameters
    }

    /// The pool's configuration for `url`.
    static func clientConfiguration(_ url: PostgresURL, options: Options) throws -> PostgresClient.Configuration {
        let tls = try tlsConfiguration(for: url)
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database,
            tls: tls.map { .require($0) } ?? .disable)
        configuration.options.maximumConnections = max(1, options.maximumConnections)
        configuration.options.minimumConnections = min(max(0, options.minimumConnections), configuration.options.maximumConnections)
        configuration.options.connectTimeout = options.connectTimeout
        configuration.options.additionalStartupParameters = startupParameters(options)
        return configuration
    }

    /// The configuration of one connection outside the pool (the migration's: its errors say
    /// at once why a login failed, where the pool would keep retrying until a time-out).
    static func connectionConfiguration(_ url: PostgresURL, options: Options) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        if let configuration = try tlsConfiguration(for: url) {
            do {
                tls = .require(try NIOSSLContext(configuration: configuration))
            } catch {
                throw PostgresStoreError(.tlsConfiguration, "cannot set up TLS: \(error)")
            }
        } else {
            tls = .disable
        }
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: tls)
        configuration.options.connectTimeout = TimeAmount(options.connectTimeout)
        configuration.options.additionalStartupParameters = startupParameters(options)
        return configuration
    }

    /// TLS as `sslmode` says; nil for `disable`.
    private static func tlsConfiguration(for url: PostgresURL) throws -> TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch url.sslMode {
        case .disable:
            return nil
        case .require:
            // libpq's `require`: encrypted, the certificate is not checked.
            tls.certificateVerification = .none
            return tls
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
        case .verifyFull:
            tls.certificateVerification = .fullVerification
        }
        if let path = url.sslRootCertificate {
            // Loaded now, so that a missing or broken file stops the start instead of every connect.
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
            } catch {
                throw PostgresStoreError(.tlsConfiguration, "cannot read the sslrootcert file \(path): \(error)")
            }
        }
        return tls
    }
}
