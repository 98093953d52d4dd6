import CSQLite
import ETL
import Testing
import Warehouse

#if canImport(Glibc)
import Glibc
#endif

/// A fresh database in a new temporary directory, removed when released.
final class TemporaryDatabase {
    let directory: String
    var path: String { directory + "/warehouse.sqlite" }

    init() {
        var template = Array("/tmp/warehouse-test-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit {
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        rmdir(directory)
    }

    func warehouse(_ options: SQLiteOptions = .init()) throws -> SQLiteWarehouse {
        let warehouse = try SQLiteWarehouse(path: path, options: options)
        try warehouse.prepare()
        return warehouse
    }

    /// Runs `body` while another connection holds a write transaction open, in which `sql`
    /// has run (uncommitted); commits when `body` returns. The number of rows `sql` changed
    /// is passed to `body`, so a test can prove the write is real before it reads.
    func withOpenWrite(_ sql: String, _ body: (Int) throws -> Void) throws {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK else {
            Issue.record("cannot open \(path) for writing")
            return
        }
        defer { sqlite3_close_v2(handle) }
        sqlite3_busy_timeout(handle, 30_000)
        func run(_ text: String) -> Bool {
            let ok = sqlite3_exec(handle, text, nil, nil, nil) == SQLITE_OK
            if !ok { Issue.record("\(text): \(String(cString: sqlite3_errmsg(handle)))") }
            return ok
        }
        guard run("BEGIN IMMEDIATE"), run(sql) else { return }
        let changed = Int(sqlite3_changes(handle))
        try body(changed)
        _ = run("COMMIT")
    }

    /// Every row of a query as text (NULL as nil), through a separate plain connection.
    func query(_ sql: String) -> [[String?]] {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else { return [] }
        defer { sqlite3_close_v2(handle) }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else {
            Issue.record("cannot prepare \(sql): \(String(cString: sqlite3_errmsg(handle)))")
            return []
        }
        defer { sqlite3_finalize(statement) }
        var rows: [[String?]] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            rows.append((0..<sqlite3_column_count(statement)).map { column in
                sqlite3_column_text(statement, column).map { String(cString: $0) }
            })
        }
        return rows
    }
}

/// Seconds since the epoch of a wall-clock time (proleptic Gregorian, no zone).
func wallClock(_ year: Int64, _ month: Int64, _ day: Int64, _ hour: Int64 = 0, _ minute: Int64 = 0) -> LocalDateTime {
    // Days from civil (Howard Hinnant's algorithm).
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    let days = era * 146_097 + dayOfEra - 719_468
    return LocalDateTime(secondsSinceEpoch: days * 86_400 + hour * 3600 + minute * 60)
}

/// An order line with the row key made of its time and line (unique unless `keyLine` says otherwise).
func orderRow(
    line: Int64, invoice: String, stock: String, description: String?, quantity: Int64, time: LocalDateTime,
    priceMicros: Int64, customer: String?, country: String, isProduct: Bool = true, keyLine: Int64? = nil, region: UInt64 = 1
) -> OrderRow {
    OrderRow(
        rowKey: RowKey(high: UInt64(bitPattern: time.secondsSinceEpoch), low: region << 48 | UInt64(keyLine ?? line)),
        invoiceNo: invoice, stockCode: stock, description: description, quantity: quantity, invoiceTime: time,
        unitPrice: ExactDecimal(micros: priceMicros), revenue: ExactDecimal(micros: quantity * priceMicros),
        customerID: customer, country: country, isCancellation: invoice.hasPrefix("C"), isProduct: isProduct,
        sourceLine: line)
}

func context(_ id: String, region: String = "UK", loadedAtMicros: Int64 = 1_700_000_000_123_456) -> UploadContext {
    UploadContext(uploadID: id, region: region, currency: "GBP", sourceURI: "file:///var/objects/\(id).csv",
                  loadedAtMicros: loadedAtMicros)
}

extension Warehouse {
    /// Stores the rows as a load does and then records the load as finished, the moment its
    /// rows become visible to reports.
    @discardableResult
    func load(_ rows: [OrderRow], for context: UploadContext) throws -> InsertResult {
        let result = try insert(rows, for: context)
        try finishLoad(context)
        return result
    }

    /// Records the upload of `context` as loaded.
    func finishLoad(_ context: UploadContext) throws {
        try saveUpload(UploadRecord(
            id: context.uploadID, region: context.region, fileName: "\(context.uploadID).csv", objectURI: context.sourceURI,
            sha256: context.uploadID, sizeBytes: 1, encoding: "utf-8", status: .loaded, currency: context.currency,
            createdAtMicros: context.loadedAtMicros, updatedAtMicros: context.loadedAtMicros))
    }
}
