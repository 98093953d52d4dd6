// The embedded warehouse: one SQLite file in WAL mode.

import CSQLite
import ETL
import Synchronization

/// Settings of the embedded SQLite warehouse.
public struct SQLiteOptions: Sendable {
    /// How thoroughly SQLite flushes to disk (`PRAGMA synchronous`).
    public enum Synchronous: String, Sendable {
        /// No flushes: fastest, a power loss can corrupt the database.
        case off = "OFF"
        /// Flushes at checkpoints (in WAL mode a power loss may lose the last commits, never corrupt).
        case normal = "NORMAL"
        /// Flushes at every commit.
        case full = "FULL"
    }

    /// How long a connection waits for a lock held by another before failing.
    public var busyTimeoutMilliseconds: Int32
    /// Page cache of each connection, in KiB. Rows are appended in key order, so the pages
    /// an insert touches are few and recent: 4 MiB measured as fast as 64 MiB for loading
    /// (same CPU per row) and keeps the process small; the kernel's page cache holds the rest.
    public var cacheSizeKiB: Int
    public var synchronous: Synchronous
    /// Rows bound into one multi-row INSERT statement.
    public var rowsPerStatement: Int
    /// Read connections kept open when idle.
    public var maxIdleReadConnections: Int
    /// The longest a read (a report question) may run before SQLite interrupts it and the call
    /// throws `WarehouseError.timedOut`; 0 = no limit.
    public var queryTimeoutMilliseconds: Int = 0
    /// Database page size in bytes, applied only when the file is created. Large
    /// pages measured fastest for appending rows (16 KiB: ~15% more rows per CPU second than 4 KiB).
    public var pageSize: Int
    /// How the rows table keys its rows (measurements only; the default is the supported one).
    @_spi(Benchmark) public var rowLayout: SQLiteRowLayout = .uniqueIndex
    /// Whether rows are indexed by invoice day (measurements only).
    /// An index on the invoice day. Off: date filters use the row-key index (keys lead with
    /// the invoice time), and every insert is spared an index update.
    @_spi(Benchmark) public var indexInvoiceDay = false
    /// WAL pages that trigger a checkpoint (measurements only).
    @_spi(Benchmark) public var walAutocheckpointPages = 1000
    /// The size the write-ahead log file is cut back to when it starts over after a complete
    /// checkpoint: a large load (or checkpoints lagging behind it on a busy machine) may grow
    /// the log, and the disk space comes back once it is copied into the database.
    @_spi(Benchmark) public var walSizeLimitBytes = 64 << 20
    /// Whether checkpoints run on a thread of their own instead of inside the commit that
    /// crosses `walAutocheckpointPages` (measurements only; the default is the supported one).
    @_spi(Benchmark) public var backgroundCheckpoints = true
    /// Whether loads keep the report tables (measurements of their cost only: reports read them).
    @_spi(Benchmark) public var maintainReportTables = true
    /// Product numbers a load's preparer keeps before it starts a new numbering (a bound on its
    /// memory; a batch larger than it is numbered whole).
    @_spi(Testing) public var loadProductNumbersKept = 100_000

    public init(
        busyTimeoutMilliseconds: Int32 = 5000, cacheSizeKiB: Int = 4096, synchronous: Synchronous = .normal,
        rowsPerStatement: Int = 250, maxIdleReadConnections: Int = 4, pageSize: Int = 16384
    ) {
        self.pageSize = pageSize
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.cacheSizeKiB = cacheSizeKiB
        self.synchronous = synchronous
        self.rowsPerStatement = max(1, min(rowsPerStatement, 2000))
        self.maxIdleReadConnections = maxIdleReadConnections
    }
}

/// The embedded warehouse: rows and upload records in one SQLite database file.
///
/// Sendable because every piece of mutable state is behind a `Mutex`: all
/// writes go through the single write connection inside `writer`, one at a
/// time; reads check a connection out of `idleReaders` (or open one), use it
/// on the calling thread alone, and give it back. In WAL mode readers see the
/// last committed state and are not blocked by a long write transaction.
public final class SQLiteWarehouse: Warehouse {
    /// The database file.
    public let path: String
    let options: SQLiteOptions
    let writer: Mutex<SQLiteWriter>
    private let idleReaders: Mutex<[SQLiteConnection]>
    /// Runs the write connection's WAL checkpoints off the insert path; nil when it could not start.
    private let checkpointer: SQLiteCheckpointer?

    /// Opens (or creates) the database file and sets WAL mode. Call `prepare()` to create the tables.
    public init(path: String, options: SQLiteOptions = .init()) throws {
        self.path = path
        self.options = options
        let connection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: options.busyTimeoutMilliseconds)
        try connection.execute("""
            PRAGMA page_size = \(options.pageSize);
            PRAGMA journal_mode = WAL;
            PRAGMA wal_autocheckpoint = \(options.walAutocheckpointPages);
            PRAGMA journal_size_limit = \(options.walSizeLimitBytes);
            PRAGMA synchronous = \(options.synchronous.rawValue);
            PRAGMA cache_size = -\(options.cacheSizeKiB);
            PRAGMA temp_store = MEMORY;
            PRAGMA foreign_keys = OFF;
            """)
        if options.backgroundCheckpoints, let checkpointer = SQLiteCheckpointer(
            path: path, busyTimeoutMilliseconds: options.busyTimeoutMilliseconds,
            thresholdPages: options.walAutocheckpointPages) {
            checkpointer.attach(to: connection)
            self.checkpointer = checkpointer
        } else {
            checkpointer = nil
        }
        writer = Mutex(SQLiteWriter(connection: connection, options: options))
        idleReaders = Mutex([])
    }

    deinit {
        if let checkpointer {
            writer.withLock { writer in _ = sqlite3_wal_hook(writer.connection.handle, nil, nil) }
            checkpointer.stop()
        }
    }

    /// Creates the `uploads` and `order_rows` tables, their indexes and the `orders` view when missing.
    public func prepare() throws {
        try writer.withLock { writer throws(WarehouseError) in
            try writer.connection.execute("BEGIN IMMEDIATE")
            do throws(WarehouseError) {
                try writer.connection.execute(SQLiteSchema.uploads)
                let existing = try writer.connection.columnNames(of: "uploads")
                for column in SQLiteSchema.addedUploadColumns where !existing.contains(column.name) {
                    try writer.connection.execute("ALTER TABLE uploads ADD COLUMN \(column.name) \(column.definition)")
                }
                try writer.connection.execute(SQLiteSchema.audit)
                try writer.connection.execute(SQLiteSchema.rows(options.rowLayout))
                try writer.connection.execute(
                    options.indexInvoiceDay ? SQLiteSchema.rowIndexes : "DROP INDEX IF EXISTS order_rows_by_day")
                try writer.connection.execute("DROP VIEW IF EXISTS orders")
                try writer.connection.execute(SQLiteSchema.ordersView)
                try writer.prepareReportTables()
                try writer.connection.execute("COMMIT")
            } catch {
                try? writer.connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// Runs a cheap query on a read connection and takes (then releases) the write lock.
    public func checkReady() throws {
        try withReader { connection throws(WarehouseError) in
            let statement = try connection.cached("SELECT 1 FROM uploads LIMIT 1")
            try statement.run()
        }
        try writer.withLock { writer throws(WarehouseError) in
            if sqlite3_db_readonly(writer.connection.handle, "main") == 1 {
                throw .notWritable("the database file is read-only")
            }
            // Taking the write lock proves that no one holds it for longer than the busy timeout.
            try writer.connection.execute("BEGIN IMMEDIATE; ROLLBACK;")
        }
    }

    /// Stores the batch in one transaction with multi-row INSERT OR IGNORE statements; see `Warehouse.insert`.
    public func insert(_ rows: [OrderRow], for upload: UploadContext) throws -> InsertResult {
        try insert(rows, for: upload, prepared: nil)
    }

    /// Lays out each batch of a load for binding and groups it into report cells (no database
    /// work), on the loading thread.
    public func makeBatchPreparer(for upload: UploadContext) -> (any BatchPreparer)? {
        SQLiteBatchPreparer(maintainReportTables: options.maintainReportTables, productLimit: options.loadProductNumbersKept)
    }

    /// Stores the batch as `insert(_:for:)`, with what the load's preparer made of it.
    public func insert(_ rows: [OrderRow], for upload: UploadContext, prepared: (any PreparedBatch)?) throws -> InsertResult {
        guard !rows.isEmpty else { return InsertResult(inserted: 0, alreadyPresent: [], rejected: []) }
        // Only this warehouse's own preparation is of use; any other is ignored (prepared again).
        var batch = prepared as? SQLitePreparedBatch
        if batch?.rows.rowCount != rows.count {
            batch = SQLitePreparedBatch(rows: SQLiteEncodedRows(rows), cells: nil)
        }
        let encoded = batch!
        return try writer.withLock { writer throws(WarehouseError) in
            try writer.insert(rows, for: upload, encoded: encoded.rows, cells: encoded.cells)
        }
    }

    /// Runs `body` with a read connection that no other thread uses meanwhile, in one read transaction.
    func withReader<Result>(_ body: (SQLiteConnection) throws(WarehouseError) -> Result) throws(WarehouseError) -> Result {
        let connection: SQLiteConnection
        if let idle = idleReaders.withLock({ $0.popLast() }) {
            connection = idle
        } else {
            connection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: options.busyTimeoutMilliseconds)
            try connection.execute("PRAGMA cache_size = -\(options.cacheSizeKiB); PRAGMA query_only = 1;")
            if options.queryTimeoutMilliseconds > 0 { connection.watchDeadline() }
        }
        if options.queryTimeoutMilliseconds > 0 { connection.deadline.start(milliseconds: options.queryTimeoutMilliseconds) }
        // One snapshot for all the statements of the call: a report reads the dictionaries and
        // the chunks as of the same commit.
        try connection.execute("BEGIN")
        defer {
            if sqlite3_get_autocommit(connection.handle) == 0 { try? connection.execute("COMMIT") }
            connection.deadline.clear()
            let limit = options.maxIdleReadConnections
            idleReaders.withLock { idle in
                if idle.count < limit { idle.append(connection) }
            }
        }
        return try body(connection)
    }
}

/// The write connection and what it reuses between batches: prepared
/// statements, upload references, dictionary numbers.
/// Only used under the warehouse's `writer` Mutex.
final class SQLiteWriter {
    let connection: SQLiteConnection
    let options: SQLiteOptions
    /// Multi-row INSERT statements by row count.
    var insertStatements: [Int: SQLiteStatement] = [:]
    /// Upload references known to be committed, by upload id, with the context they were saved with.
    var uploadRefs: [String: (context: UploadContext, ref: Int64)] = [:]
    /// Report dictionary numbers known to be in the database (see `recordReportCells`).
    var reportRefs = ReportRefCache()
    /// Counts the times dictionary numbers were forgotten (a rollback, a rebuild): numbers a
    /// load kept from an earlier generation are not used.
    var dictionaryGeneration = 0

    /// Forgets every dictionary number known, when some may no longer be in the database.
    func forgetDictionaryNumbers() {
        reportRefs.clear()
        dictionaryGeneration += 1
    }

    init(connection: SQLiteConnection, options: SQLiteOptions) {
        self.connection = connection
        self.options = options
    }

    deinit {
        for statement in insertStatements.values { statement.finalize() }
    }
}
