import GatehouseSessions
import PostgresNIO

/// LISTEN/NOTIFY between replicas — the building block for enforcing a change made on one
/// replica on the others within a second (DESIGN 9). Not wired in yet: the intended use is
/// that a mutation notifies (in or right after its transaction) with the key it changed, and
/// every replica runs one `listen` loop that reloads or drops that key from memory, and
/// reloads everything after the loop had to reconnect (notifications sent meanwhile are lost).
///
/// Payloads are visible to anyone who can LISTEN on the database: send keys' hashes or table
/// names, never a session id or a token.
extension PostgresStore {
    /// Sends `payload` (at most 7999 bytes) to every session listening on `channel`, on commit.
    public func notify(channel: String, payload: String) async throws {
        try await perform { client in
            try await client.query("SELECT pg_notify(\(channel), \(payload))", logger: quietLogger)
        }
    }

    /// Listens on `channel` on a connection of its own (taken from the pool for as long as this
    /// runs) and calls `onNotification` with each payload, in order. `onListening` runs once the
    /// server has confirmed the LISTEN, so that a caller can reload its state after that point
    /// and miss nothing. Returns when the task is cancelled; throws when the connection breaks.
    public func listen(
        channel: String, onListening: @Sendable () async -> Void = {}, onNotification: @Sendable (String) async -> Void
    ) async throws {
        if isClosed { throw SessionStoreError.closed }
        try await migrate()
        try await Self.mapErrors {
            try await client.withConnection { connection in
                try await connection.listen(on: channel) { notifications in
                    await onListening()
                    for try await notification in notifications {
                        await onNotification(notification.payload)
                    }
                }
            }
        }
    }
}
