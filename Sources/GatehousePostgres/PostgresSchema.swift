import GatehouseSessions
import Logging
import PostgresNIO

/// The PostgreSQL schema as numbered migrations, version for version the same tables as the
/// SQLite store's `SessionSchema` (times in seconds as DOUBLE PRECISION, the sealed token as
/// BYTEA, the audit sequence a BIGSERIAL). Never edit a shipped migration: add the next one.
enum PostgresSchema {
    struct Migration: Sendable {
        var version: Int64
        var statements: [String]
    }

    /// Taken (for the transaction) before anything is read, so that replicas starting together
    /// migrate one after the other and the later ones find the work done. The value is
    /// arbitrary but fixed: "gatehous" in ASCII.
    static let advisoryLockKey: Int64 = 0x6761_7465_686F_7573

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
                created_at DOUBLE PRECISION NOT NULL,
                last_seen_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                CONSTRAINT session_bindings_pkey PRIMARY KEY (tenant, header, session_id)
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
                start_handle TEXT NOT NULL,
                cookie_hash TEXT,
                sealed_token BYTEA,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                completed_at DOUBLE PRECISION,
                CONSTRAINT oauth_flows_pkey PRIMARY KEY (tenant, session_id),
                CONSTRAINT oauth_flows_start_handle_key UNIQUE (start_handle)
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
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                CONSTRAINT registered_idps_pkey PRIMARY KEY (tenant, name)
            )
            """,
            """
            CREATE TABLE admin_keys (
                id TEXT NOT NULL,
                tenant TEXT NOT NULL,
                name TEXT,
                secret_hash TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                revoked_at DOUBLE PRECISION,
                CONSTRAINT admin_keys_pkey PRIMARY KEY (id)
            )
            """,
            "CREATE INDEX admin_keys_tenant ON admin_keys (tenant)",
            """
            CREATE TABLE audit_log (
                sequence BIGSERIAL PRIMARY KEY,
                tenant TEXT,
                time DOUBLE PRECISION NOT NULL,
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
                kid TEXT NOT NULL,
                public_key BYTEA NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                CONSTRAINT replica_keys_pkey PRIMARY KEY (kid)
            )
            """,
            """
            CREATE TABLE settled_values (
                name TEXT NOT NULL,
                value BYTEA NOT NULL,
                CONSTRAINT settled_values_pkey PRIMARY KEY (name)
            )
            """,
        ]),
        // The replicas running now, each with the time its last heartbeat holds it live until.
        Migration(version: 4, statements: [
            """
            CREATE TABLE replica_presence (
                replica_id TEXT NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                CONSTRAINT replica_presence_pkey PRIMARY KEY (replica_id)
            )
            """,
        ]),
    ]

    static var latestVersion: Int64 { migrations.last?.version ?? 0 }

    /// Brings the database to `latestVersion` in one transaction; returns the version it was at
    /// before. A crash or error mid-way leaves the old version intact (PostgreSQL's DDL is
    /// transactional). Refuses a database written by a newer Gatehouse rather than guessing at
    /// its layout.
    @discardableResult
    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        let previous = try await connection.transaction { connection in
            try await connection.execute("SELECT pg_advisory_xact_lock(\(advisoryLockKey))")
            try await connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)")
            let current = try await connection.rows("SELECT version FROM schema_version WHERE id = 1").first?.decode(Int64.self) ?? 0
            guard current <= latestVersion else { throw SessionStoreError.unsupportedSchemaVersion(current) }
            guard current < latestVersion else { return current }
            for migration in migrations where migration.version > current {
                for statement in migration.statements { try await connection.execute(PostgresQuery(unsafeSQL: statement)) }
            }
            try await connection.execute(
                """
                INSERT INTO schema_version (id, version) VALUES (1, \(latestVersion))
                ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version
                """)
            return current
        }
        if previous != latestVersion {
            logger.info("session store schema migrated", metadata: ["from": "\(previous)", "to": "\(latestVersion)"])
        }
        return previous
    }
}
