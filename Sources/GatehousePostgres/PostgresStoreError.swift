import PostgresNIO

/// A failure of the PostgreSQL store that is about the database, not the data (those are
/// `SessionStoreError`s, the same as SQLite's).
///
/// The description is safe to log: it never holds a bound value (session ids, sealed tokens,
/// key hashes), the password, or the server's error detail (which quotes row values).
public struct PostgresStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure; a struct so that new kinds do not break exhaustive switches.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Kind: String, Sendable, Hashable {
            case invalidURL = "invalid URL"
            case tlsConfiguration = "TLS configuration"
            case unavailable = "unavailable"
            case timedOut = "timed out"
            case server = "server error"
            case unreadableRow = "unreadable row"
        }

        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// The `store:` URL cannot be used.
        public static let invalidURL = Code(.invalidURL)
        /// The `sslrootcert` file cannot be loaded.
        public static let tlsConfiguration = Code(.tlsConfiguration)
        /// No connection could be had or it broke (the server is down, refused the login, …).
        public static let unavailable = Code(.unavailable)
        /// The database did not answer in time.
        public static let timedOut = Code(.timedOut)
        /// The server refused a statement; `sqlState` says why.
        public static let server = Code(.server)
        /// A row the store wrote cannot be read back (a column of an unexpected type).
        public static let unreadableRow = Code(.unreadableRow)

        public var description: String { kind.rawValue }
    }

    public let code: Code
    /// The five-character SQLSTATE of a server error (`23505` is a unique violation).
    public let sqlState: String?
    public let message: String

    public init(_ code: Code, _ message: String, sqlState: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String {
        if let sqlState { return "postgres store: \(code): \(message) (SQLSTATE \(sqlState))" }
        return "postgres store: \(code): \(message)"
    }
}

extension PostgresStoreError {
    /// The SQLSTATE of a unique-constraint violation.
    static let uniqueViolation = "23505"

    /// A PostgresNIO error, stripped of everything that could hold a secret: the query's bound
    /// values, the server's DETAIL line, and messages of data errors (class 22, which may quote
    /// the offending value).
    init(_ error: PSQLError) {
        if let info = error.serverInfo {
            let state = info[.sqlState] ?? "XX000"
            var message = state.hasPrefix("22") ? "invalid data" : (info[.message] ?? "unknown")
            if let table = info[.tableName] { message += " [table \(table)]" }
            // Connection-level refusals (bad password, too many clients, database missing).
            let unavailable = state.hasPrefix("08") || state.hasPrefix("28") || state.hasPrefix("53") || state.hasPrefix("57P")
                || state == "3D000"
            self.init(unavailable ? .unavailable : .server, message, sqlState: state)
            return
        }
        // Client-side failures: refused or broken connections, TLS, authentication methods.
        self.init(.unavailable, error.underlying.map { "\(error.code): \($0)" } ?? "\(error.code)")
    }

    /// A value that could not be decoded: which column, never what it held.
    init(decoding error: PostgresDecodingError) {
        self.init(.unreadableRow, "column \(error.columnName) (\(error.code))")
    }
}
