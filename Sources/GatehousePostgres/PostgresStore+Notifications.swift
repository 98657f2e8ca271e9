import GatehouseSessions
import PostgresNIO

/// LISTEN/NOTIFY between replicas: how a change made on one replica is enforced on the others
/// within a second. `ReplicaSync` (GatehouseApp) notifies after each change and runs one
/// `listen` loop per replica, which drops or re-reads what changed and re-reads everything
/// whenever the LISTEN is (re-)established (notifications sent meanwhile are lost).
///
/// Payloads are visible to anyone who can LISTEN on the database, and anyone who can connect
/// may send one: they name a binding by a salted digest (`ReplicaChangeCodec`), never a session
/// id or a token in clear, and receivers treat them as untrusted.
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
        do {
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
        } catch let error as PostgresStoreError where error.code == .unavailable || error.code == .timedOut {
            // The listener is the first to hear the database go: other calls need not wait for it.
            noteOutage(error)
            throw error
        }
    }
}
