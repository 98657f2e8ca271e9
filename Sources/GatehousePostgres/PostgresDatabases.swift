import GatehouseCore
import PostgresNIO

/// Creating and dropping databases and schemas on a server, for test suites that give every
/// test a place of its own. Gatehouse itself never does this: the operator creates the
/// database the `store:` URL names.
package enum PostgresDatabases {
    /// Creates the schema `name` in `admin`'s database (see `PostgresStore.Options.schema`).
    package static func createSchema(_ name: String, admin: PostgresURL) async throws {
        try checkName(name)
        try await withServer(admin) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(name)"))
        }
    }

    /// Drops the schema `name` and everything in it; a missing one is fine.
    package static func dropSchema(_ name: String, admin: PostgresURL) async throws {
        try checkName(name)
        try await withServer(admin) { client in
            try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(name) CASCADE"))
        }
    }

    /// Creates `name` (lower-case letters, digits and `_`, at most 63) on the server `admin`
    /// points at; `admin`'s user needs CREATEDB. Returns the URL of the new database.
    package static func create(_ name: String, admin: PostgresURL) async throws -> PostgresURL {
        try checkName(name)
        try await withServer(admin) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE template0 ENCODING 'UTF8'"))
        }
        var url = admin
        url.database = name
        return url
    }

    /// Drops `name`, disconnecting whoever is still connected to it; a missing one is fine.
    package static func drop(_ name: String, admin: PostgresURL) async throws {
        try checkName(name)
        try await withServer(admin) { client in
            try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
        }
    }

    private static func checkName(_ name: String) throws {
        let plain = name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
        guard plain, (1...63).contains(name.utf8.count), name.first?.isLetter == true else {
            throw PostgresStoreError(.invalidURL, "a database or schema name must be 1-63 lower-case letters, digits or _, starting with a letter")
        }
    }

    /// Runs `body` with a one-connection pool to `url`, shut down afterwards.
    @discardableResult
    private static func withServer<T: Sendable>(_ url: PostgresURL, _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        var options = PostgresStore.Options()
        options.maximumConnections = 1
        options.minimumConnections = 0
        let client = PostgresClient(configuration: try PostgresStore.clientConfiguration(url, options: options), backgroundLogger: quietLogger)
        let runner = Task { await client.run() }
        do {
            let result = try await PostgresStore.mapErrors { try await body(client) }
            runner.cancel()
            await runner.value
            return result
        } catch {
            runner.cancel()
            await runner.value
            throw error
        }
    }
}
