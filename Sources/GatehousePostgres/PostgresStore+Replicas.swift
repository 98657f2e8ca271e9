import GatehouseCore
import GatehouseSessions
import PostgresNIO

/// `ReplicaStore`: the keys and settled values replicas with state folders of their own share.
extension PostgresStore: ReplicaStore {
    public func registerReplicaKeys(_ keys: [ReplicaKeyRecord]) async throws {
        guard !keys.isEmpty else { return }
        try await transaction { connection in
            for key in keys {
                try await connection.execute(
                    """
                    INSERT INTO replica_keys (kid, public_key, expires_at) VALUES (\(key.kid), \(ByteBuffer(bytes: key.publicKey)), \(key.expiresAt))
                    ON CONFLICT (kid) DO UPDATE SET expires_at = GREATEST(replica_keys.expires_at, EXCLUDED.expires_at)
                    WHERE replica_keys.public_key = EXCLUDED.public_key
                    """)
            }
        }
    }

    public func replicaKeys(now: Double, limit: Int) async throws -> [ReplicaKeyRecord] {
        let rows = try await perform { client in
            try await client.rows(
                """
                SELECT kid, public_key, expires_at FROM replica_keys WHERE expires_at > \(now)
                ORDER BY expires_at DESC, kid COLLATE "C" LIMIT \(Int64(max(1, limit)))
                """)
        }
        return rows.compactMap { row in
            do {
                let (kid, publicKey, expiresAt) = try row.decode((String, ByteBuffer, Double).self)
                return ReplicaKeyRecord(kid: kid, publicKey: Array(publicKey.readableBytesView), expiresAt: expiresAt)
            } catch {
                logSkippedRow(table: "replica_keys", error)
                return nil
            }
        }
    }

    public func deleteExpiredReplicaKeys(now: Double) async throws -> Int {
        try await perform { client in
            try await client.count("DELETE FROM replica_keys WHERE expires_at <= \(now) RETURNING 1")
        }
    }

    public func announceReplica(_ id: String, until expiresAt: Double, now: Double) async throws -> Int {
        try await transaction { connection in
            try await connection.execute(
                """
                INSERT INTO replica_presence (replica_id, expires_at) VALUES (\(id), \(expiresAt))
                ON CONFLICT (replica_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
                """)
            try await connection.execute("DELETE FROM replica_presence WHERE expires_at <= \(now)")
            let row = try await connection.rows("SELECT count(*) FROM replica_presence WHERE expires_at > \(now)").first
            return Int(try row?.decode(Int64.self) ?? 1)
        }
    }

    public func withdrawReplica(_ id: String) async throws {
        try await perform { client in
            _ = try await client.count("DELETE FROM replica_presence WHERE replica_id = \(id) RETURNING 1")
        }
    }

    /// Read committed: a proposal racing another waits on the primary key until that one
    /// commits, inserts nothing, and its SELECT (a new snapshot) sees the winner's row.
    public func settledValue(_ name: String, proposing proposed: [UInt8]) async throws -> [UInt8] {
        try await transaction { connection in
            try await connection.execute(
                "INSERT INTO settled_values (name, value) VALUES (\(name), \(ByteBuffer(bytes: proposed))) ON CONFLICT (name) DO NOTHING")
            guard let row = try await connection.rows("SELECT value FROM settled_values WHERE name = \(name)").first else {
                throw PostgresStoreError(.unreadableRow, "settled_values has no row for the value just settled")
            }
            return Array(try row.decode(ByteBuffer.self).readableBytesView)
        }
    }
}
