import CSQLite

/// A value bound to a `?` parameter. Everything the store writes goes through these, so no
/// value is ever spliced into SQL text.
enum SQLiteValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])

    static func optionalText(_ value: String?) -> SQLiteValue { value.map { .text($0) } ?? .null }
    static func optionalDouble(_ value: Double?) -> SQLiteValue { value.map { .double($0) } ?? .null }

    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        switch self {
        case .null:
            return sqlite3_bind_null(statement, index)
        case .int(let value):
            return sqlite3_bind_int64(statement, index, value)
        case .double(let value):
            return sqlite3_bind_double(statement, index, value)
        case .text(let value):
            var value = value
            return value.withUTF8 { bytes in
                // A nil base address would bind NULL, not the empty string.
                guard let base = bytes.baseAddress, !bytes.isEmpty else {
                    return sqlite3_bind_text(statement, index, "", 0, sqliteTransient)
                }
                let chars = UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self)
                return sqlite3_bind_text64(statement, index, chars, UInt64(bytes.count), sqliteTransient, UInt8(SQLITE_UTF8))
            }
        case .blob(let value):
            // Same: an empty blob must stay a blob, not become NULL.
            guard !value.isEmpty else { return sqlite3_bind_zeroblob(statement, index, 0) }
            return value.withUnsafeBytes { bytes in
                sqlite3_bind_blob64(statement, index, bytes.baseAddress, UInt64(bytes.count), sqliteTransient)
            }
        }
    }
}

/// SQLITE_TRANSIENT (a C macro Swift cannot import): SQLite copies the bytes before the bind
/// call returns, so Swift's temporary buffers may go away.
private let sqliteTransient = unsafeBitCast(-1 as Int, to: sqlite3_destructor_type.self)

/// A column that does not hold what the schema promises (wrong type, invalid UTF-8). Names
/// the column, never its value.
struct SQLiteColumnError: Error, CustomStringConvertible {
    var column: String
    var found: String
    var expected: String

    var description: String { "column \(column) holds \(found), expected \(expected)" }
}

/// The current row of a query; valid only inside the `query` callback. The accessors are
/// strict (no type coercion), so a damaged row is reported instead of silently misread.
struct SQLiteRow {
    fileprivate let statement: OpaquePointer

    init(statement: OpaquePointer) { self.statement = statement }

    func isNull(_ index: Int32) -> Bool { sqlite3_column_type(statement, index) == SQLITE_NULL }

    func text(_ index: Int32) throws -> String {
        try expect(index, SQLITE_TEXT, "text")
        let count = Int(sqlite3_column_bytes(statement, index))
        guard let bytes = sqlite3_column_text(statement, index) else {
            if count == 0 { return "" }
            throw mismatch(index, "text")
        }
        guard let value = String(validating: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self) else {
            throw SQLiteColumnError(column: name(index), found: "invalid UTF-8", expected: "text")
        }
        return value
    }

    func optionalText(_ index: Int32) throws -> String? { isNull(index) ? nil : try text(index) }

    func int64(_ index: Int32) throws -> Int64 {
        try expect(index, SQLITE_INTEGER, "integer")
        return sqlite3_column_int64(statement, index)
    }

    /// REAL columns hold integers as REAL already (column affinity); INTEGER is accepted anyway.
    func double(_ index: Int32) throws -> Double {
        let type = sqlite3_column_type(statement, index)
        guard type == SQLITE_FLOAT || type == SQLITE_INTEGER else { throw mismatch(index, "real") }
        return sqlite3_column_double(statement, index)
    }

    func optionalDouble(_ index: Int32) throws -> Double? { isNull(index) ? nil : try double(index) }

    func blob(_ index: Int32) throws -> [UInt8] {
        try expect(index, SQLITE_BLOB, "blob")
        let count = Int(sqlite3_column_bytes(statement, index))
        // A zero-length blob comes back as a nil pointer.
        guard count > 0, let bytes = sqlite3_column_blob(statement, index) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    func optionalBlob(_ index: Int32) throws -> [UInt8]? { isNull(index) ? nil : try blob(index) }

    private func expect(_ index: Int32, _ type: Int32, _ expected: String) throws {
        guard sqlite3_column_type(statement, index) == type else { throw mismatch(index, expected) }
    }

    private func mismatch(_ index: Int32, _ expected: String) -> SQLiteColumnError {
        let found: String
        switch sqlite3_column_type(statement, index) {
        case SQLITE_NULL: found = "null"
        case SQLITE_INTEGER: found = "integer"
        case SQLITE_FLOAT: found = "real"
        case SQLITE_TEXT: found = "text"
        case SQLITE_BLOB: found = "blob"
        default: found = "an unknown type"
        }
        return SQLiteColumnError(column: name(index), found: found, expected: expected)
    }

    private func name(_ index: Int32) -> String {
        sqlite3_column_name(statement, index).map { String(cString: $0) } ?? "#\(index)"
    }
}
