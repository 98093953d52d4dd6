// A thin layer over the SQLite C API: one connection, prepared statements, binding and reading.

import CSQLite
import Glibc
import Synchronization

/// One SQLite connection, opened in multi-thread mode (no locking inside SQLite):
/// it must be used by one thread at a time.
final class SQLiteConnection: @unchecked Sendable {
    // @unchecked Sendable: the handle is only ever used by one thread at a time —
    // the write connection under the warehouse's Mutex, read connections checked
    // out of the pool by a single caller — which is what SQLite's multi-thread mode requires.
    let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]
    /// When the statements of this connection are interrupted (see `watchDeadline`).
    let deadline = QueryDeadline()

    init(path: String, busyTimeoutMilliseconds: Int32) throws(WarehouseError) {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let handle { sqlite3_close_v2(handle) }
            throw .cannotOpen(path: path, message: message)
        }
        self.handle = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
    }

    deinit {
        for statement in statements.values { statement.finalize() }
        sqlite3_close_v2(handle)
    }

    /// The error for a failed call on this connection.
    func error(_ status: Int32) -> WarehouseError {
        let message = String(cString: sqlite3_errmsg(handle))
        let primary = status & 0xFF
        if primary == SQLITE_READONLY || primary == SQLITE_FULL || primary == SQLITE_CANTOPEN {
            return .notWritable(message)
        }
        if primary == SQLITE_INTERRUPT && deadline.passed { return .timedOut(deadline.milliseconds) }
        return .database(code: status, message: message)
    }

    /// Lets SQLite interrupt a statement of this connection once `deadline` has passed: checked
    /// every 10,000 virtual-machine steps (microseconds apart), so a long scan stops promptly.
    func watchDeadline() {
        let context = Unmanaged.passUnretained(deadline).toOpaque()
        sqlite3_progress_handler(handle, 10_000, { context in
            guard let context else { return 0 }
            return Unmanaged<QueryDeadline>.fromOpaque(context).takeUnretainedValue().passed ? 1 : 0
        }, context)
    }

    /// Runs statements that take no parameters and return no rows.
    /// The column names of a table.
    func columnNames(of table: String) throws(WarehouseError) -> Set<String> {
        let statement = try prepare("SELECT name FROM pragma_table_info('\(table)')")
        defer { statement.finalize() }
        var names: Set<String> = []
        while try statement.step() { if let name = statement.text(0) { names.insert(name) } }
        return names
    }

    /// The first column of the first row of `sql` as an integer (0 when there is no row).
    func integer(_ sql: String) throws(WarehouseError) -> Int64 {
        let statement = try prepare(sql)
        defer { statement.finalize() }
        return try statement.step() ? statement.int64(0) : 0
    }

    func execute(_ sql: String) throws(WarehouseError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if status != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(errorMessage)
            let primary = status & 0xFF
            if primary == SQLITE_READONLY || primary == SQLITE_FULL {
                throw .notWritable(message)
            }
            throw .database(code: status, message: message)
        }
    }

    /// A prepared statement for `sql`, prepared once and kept for the connection's life.
    func cached(_ sql: String) throws(WarehouseError) -> SQLiteStatement {
        if let statement = statements[sql] {
            statement.reset()
            return statement
        }
        let statement = try prepare(sql)
        statements[sql] = statement
        return statement
    }

    /// A new prepared statement that the caller owns.
    func prepare(_ sql: String) throws(WarehouseError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else { throw error(status) }
        return SQLiteStatement(statement, connection: self)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes64(handle)) }
}

/// A prepared statement. Parameters are numbered from 1, result columns from 0.
final class SQLiteStatement {
    let handle: OpaquePointer
    unowned let connection: SQLiteConnection

    init(_ handle: OpaquePointer, connection: SQLiteConnection) {
        self.handle = handle
        self.connection = connection
    }

    func finalize() { sqlite3_finalize(handle) }

    /// Makes the statement ready to run again and clears its bindings.
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func bind(_ value: Int64, at index: Int32) {
        sqlite3_bind_int64(handle, index, value)
    }

    func bind(_ value: Int, at index: Int32) {
        sqlite3_bind_int64(handle, index, Int64(value))
    }

    func bind(_ value: Bool, at index: Int32) {
        sqlite3_bind_int(handle, index, value ? 1 : 0)
    }

    /// Binds a copy of the bytes as a BLOB (SQLITE_TRANSIENT).
    func bind(bytes: [UInt8], at index: Int32) {
        bytes.withUnsafeBytes { raw in
            _ = cn_sqlite3_bind_blob_transient(handle, index, raw.baseAddress, Int32(raw.count))
        }
    }

    /// Binds a copy of UTF-8 bytes as text (SQLITE_TRANSIENT).
    func bind(utf8 bytes: [UInt8], at index: Int32) {
        bytes.withUnsafeBytes { raw in
            _ = cn_sqlite3_bind_text_transient(
                handle, index, (raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!).assumingMemoryBound(to: CChar.self),
                Int32(raw.count))
        }
    }

    /// Binds a copy of the text (SQLITE_TRANSIENT); nil binds NULL.
    func bind(_ value: String?, at index: Int32) {
        guard var value else {
            sqlite3_bind_null(handle, index)
            return
        }
        value.withUTF8 { bytes in
            _ = cn_sqlite3_bind_text_transient(
                handle, index, UnsafeRawPointer(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!)
                    .assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        }
    }

    /// Runs one step; true when a row is ready to read.
    func step() throws(WarehouseError) -> Bool {
        let status = sqlite3_step(handle)
        switch status {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let failure = connection.error(status)
            sqlite3_reset(handle)
            throw failure
        }
    }

    /// Runs the statement to completion, ignoring rows.
    func run() throws(WarehouseError) {
        while try step() {}
        sqlite3_reset(handle)
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    /// The column's text; nil when NULL.
    func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }
}

/// A point in time after which a connection's statements are interrupted (0: none).
final class QueryDeadline: Sendable {
    private let nanoseconds = Atomic<UInt64>(0)
    private let budget = Atomic<Int>(0)

    /// The budget of the running call, in milliseconds.
    var milliseconds: Int { budget.load(ordering: .relaxed) }

    func start(milliseconds: Int) {
        budget.store(milliseconds, ordering: .relaxed)
        nanoseconds.store(Self.now() + UInt64(milliseconds) * 1_000_000, ordering: .relaxed)
    }

    func clear() { nanoseconds.store(0, ordering: .relaxed) }

    var passed: Bool {
        let deadline = nanoseconds.load(ordering: .relaxed)
        return deadline != 0 && Self.now() >= deadline
    }

    private static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
