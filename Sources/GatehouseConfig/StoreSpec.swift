import GatehouseCore

/// `store:` values: `sqlite:PATH` or `postgres://…` (docs/store-and-replicas.md "Store and replicas").
enum StoreSpec {
    /// The location with a sqlite path as written (made absolute later), or a message.
    /// Messages never repeat the value: a postgres URL usually carries a password.
    static func parse(_ text: String) -> Result<StoreLocation, Invalid> {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { return .failure(Invalid("sqlite store needs a file path: \"sqlite:PATH\"")) }
            return .success(.sqlite(path: path))
        }
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            // The same parser the store connects with: a URL `check` accepts is one `serve` can use.
            do {
                _ = try PostgresURL(parsing: text)
            } catch {
                return .failure(Invalid(error.message))
            }
            return .success(.postgres(url: text))
        }
        return .failure(Invalid("must be \"sqlite:PATH\" or \"postgres://…\""))
    }
}
