import GatehouseCore

extension SessionTable {
    /// One shard's rows and, once change digests are on (a shared store), which key each digest
    /// names. Both live under the shard's one lock, so an eviction by digest never misses a row
    /// that is being installed, and the index never names a row that is gone.
    struct ShardRows {
        private(set) var rows: [SessionKey: SessionBinding] = [:]
        private var byDigest: [BindingDigest: SessionKey] = [:]
        private(set) var digester: BindingDigester?

        init() {}

        subscript(key: SessionKey) -> SessionBinding? {
            get { rows[key] }
            set {
                if let newValue { updateValue(newValue, forKey: key) } else { removeValue(forKey: key) }
            }
        }

        /// The previous row, if any.
        @discardableResult
        mutating func updateValue(_ row: SessionBinding, forKey key: SessionKey) -> SessionBinding? {
            let previous = rows.updateValue(row, forKey: key)
            if previous == nil, let digester { byDigest[digester.digest(key)] = key }
            return previous
        }

        @discardableResult
        mutating func removeValue(forKey key: SessionKey) -> SessionBinding? {
            let removed = rows.removeValue(forKey: key)
            if removed != nil, let digester { byDigest.removeValue(forKey: digester.digest(key)) }
            return removed
        }

        var values: Dictionary<SessionKey, SessionBinding>.Values { rows.values }

        func key(for digest: BindingDigest) -> SessionKey? { byDigest[digest] }

        /// Indexes every row by `digester` from now on.
        mutating func index(by digester: BindingDigester) {
            guard self.digester != digester else { return }
            self.digester = digester
            byDigest = Dictionary(rows.keys.map { (digester.digest($0), $0) }) { first, _ in first }
        }

        /// Exactly `rows`, indexed as before.
        mutating func replaceAll(with rows: [SessionKey: SessionBinding]) {
            let digester = self.digester
            self = ShardRows()
            self.rows = rows
            if let digester { index(by: digester) }
        }
    }
}
