/// The store's schema as numbered migrations. The file records the version it is at in
/// `schema_version`; opening applies every later migration in one transaction, so opening an
/// up-to-date file changes nothing and a crash mid-migration leaves the old version intact.
/// Never edit a shipped migration: add the next one.
enum SessionSchema {
    struct Migration: Sendable {
        var version: Int64
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(version: 1, statements: [
            """
            CREATE TABLE session_bindings (
                tenant TEXT NOT NULL,
                header TEXT NOT NULL,
                session_id TEXT NOT NULL,
                issuer TEXT NOT NULL,
                subject TEXT NOT NULL,
                client_id TEXT,
                upstream TEXT,
                issued_by TEXT NOT NULL,
                created_at REAL NOT NULL,
                last_seen_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                PRIMARY KEY (tenant, header, session_id)
            )
            """,
            // Loading at start and the expiry sweep both filter on expires_at.
            "CREATE INDEX session_bindings_expires_at ON session_bindings (expires_at)",
            """
            CREATE TABLE oauth_flows (
                tenant TEXT NOT NULL,
                session_id TEXT NOT NULL,
                issuer TEXT NOT NULL,
                subject TEXT NOT NULL,
                client_id TEXT,
                authorization_url TEXT NOT NULL,
                start_handle TEXT NOT NULL UNIQUE,
                cookie_hash TEXT,
                sealed_token BLOB,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                completed_at REAL,
                PRIMARY KEY (tenant, session_id)
            )
            """,
            // The callback URL carries only the session id, not the tenant.
            "CREATE INDEX oauth_flows_session_id ON oauth_flows (session_id)",
            "CREATE INDEX oauth_flows_expires_at ON oauth_flows (expires_at)",
        ]),
        // The admin API (docs/admin-api.md "Admin API"): registered IdPs, tenant admin keys (hashes only), audit log.
        Migration(version: 2, statements: [
            """
            CREATE TABLE registered_idps (
                tenant TEXT NOT NULL,
                name TEXT NOT NULL,
                document TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                PRIMARY KEY (tenant, name)
            )
            """,
            """
            CREATE TABLE admin_keys (
                id TEXT PRIMARY KEY,
                tenant TEXT NOT NULL,
                name TEXT,
                secret_hash TEXT NOT NULL,
                created_at REAL NOT NULL,
                revoked_at REAL
            )
            """,
            "CREATE INDEX admin_keys_tenant ON admin_keys (tenant)",
            """
            CREATE TABLE audit_log (
                sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                tenant TEXT,
                time REAL NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT NOT NULL,
                outcome TEXT NOT NULL,
                detail TEXT
            )
            """,
            "CREATE INDEX audit_log_tenant ON audit_log (tenant, sequence)",
        ]),
        // Replicas with state folders of their own: every replica's public assertion key, and
        // values the first replica fixes for all (the sealing key's check value, the digest salt).
        Migration(version: 3, statements: [
            """
            CREATE TABLE replica_keys (
                kid TEXT PRIMARY KEY,
                public_key BLOB NOT NULL,
                expires_at REAL NOT NULL
            )
            """,
            """
            CREATE TABLE settled_values (
                name TEXT PRIMARY KEY,
                value BLOB NOT NULL
            )
            """,
        ]),
        // The replicas running now, each with the time its last heartbeat holds it live until.
        Migration(version: 4, statements: [
            """
            CREATE TABLE replica_presence (
                replica_id TEXT PRIMARY KEY,
                expires_at REAL NOT NULL
            )
            """,
        ]),
    ]

    static var latestVersion: Int64 { migrations.last?.version ?? 0 }

    /// Brings the file to `latestVersion`; returns the version it was at before. Refuses a file
    /// written by a newer Gatehouse rather than guessing at its layout.
    @discardableResult
    static func migrate(_ db: SQLiteDatabase) throws -> Int64 {
        try db.transaction {
            try db.exec(
                "CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)")
            let current = try db.query("SELECT version FROM schema_version WHERE id = 1") { try $0.int64(0) }.first ?? 0
            guard current <= latestVersion else { throw SessionStoreError.unsupportedSchemaVersion(current) }
            guard current < latestVersion else { return current }
            for migration in migrations where migration.version > current {
                for statement in migration.statements { try db.exec(statement) }
            }
            try db.execute(
                "INSERT INTO schema_version (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                [.int(latestVersion)])
            return current
        }
    }
}
