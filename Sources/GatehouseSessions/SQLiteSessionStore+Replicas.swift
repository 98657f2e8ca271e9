import GatehouseCore

/// `ReplicaStore` on the same SQLite file: a single instance keeps its keys and settled values
/// like a replica of a shared store does, so both run the same start-up.
extension SQLiteSessionStore: ReplicaStore {
    public func registerReplicaKeys(_ keys: [ReplicaKeyRecord]) async throws {
        guard !keys.isEmpty else { return }
        try await perform { db in
            try db.transaction {
                for key in keys {
                    try db.execute(
                        """
                        INSERT INTO replica_keys (kid, public_key, expires_at) VALUES (?, ?, ?)
                        ON CONFLICT (kid) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)
                        WHERE public_key = excluded.public_key
                        """,
                        [.text(key.kid), .blob(key.publicKey), .double(key.expiresAt)])
                }
            }
        }
    }

    public func replicaKeys(now: Double, limit: Int) async throws -> [ReplicaKeyRecord] {
        try await perform { [self] db in
            try db.query(
                "SELECT kid, public_key, expires_at FROM replica_keys WHERE expires_at > ? ORDER BY expires_at DESC, kid LIMIT ?",
                [.double(now), .int(Int64(max(1, limit)))]
            ) { row in
                do {
                    return ReplicaKeyRecord(kid: try row.text(0), publicKey: try row.blob(1), expiresAt: try row.double(2))
                } catch {
                    logSkippedRow(table: "replica_keys", error)
                    return nil
                }
            }.compactMap { $0 }
        }
    }

    public func deleteExpiredReplicaKeys(now: Double) async throws -> Int {
        try await perform { db in
            try db.execute("DELETE FROM replica_keys WHERE expires_at <= ?", [.double(now)])
        }
    }

    public func announceReplica(_ id: String, until expiresAt: Double, now: Double) async throws -> Int {
        try await perform { db in
            try db.transaction {
                try db.execute(
                    "INSERT INTO replica_presence (replica_id, expires_at) VALUES (?, ?) ON CONFLICT (replica_id) DO UPDATE SET expires_at = excluded.expires_at",
                    [.text(id), .double(expiresAt)])
                _ = try db.execute("DELETE FROM replica_presence WHERE expires_at <= ?", [.double(now)])
                let live = try db.query("SELECT count(*) FROM replica_presence WHERE expires_at > ?", [.double(now)]) { try $0.int64(0) }
                return Int(live.first ?? 1)
            }
        }
    }

    public func withdrawReplica(_ id: String) async throws {
        try await perform { db in
            _ = try db.execute("DELETE FROM replica_presence WHERE replica_id = ?", [.text(id)])
        }
    }

    public func settledValue(_ name: String, proposing proposed: [UInt8]) async throws -> [UInt8] {
        try await perform { db in
            try db.transaction {
                try db.execute(
                    "INSERT INTO settled_values (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", [.text(name), .blob(proposed)])
                guard let value = try db.query("SELECT value FROM settled_values WHERE name = ?", [.text(name)], row: { try $0.blob(0) }).first
                else { throw SQLiteColumnError(column: "value", found: "no row", expected: "the value just settled") }
                return value
            }
        }
    }
}
