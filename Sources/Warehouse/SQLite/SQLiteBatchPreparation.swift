// The part of storing a batch that needs no database, done on the loading thread while the
// batch before is being stored: the rows' values laid out for binding, and the report cells.
// The insert thread, the one a load waits for, then does little besides SQLite's own work.

import CSQLite
import ETL

/// Prepares the batches of one load (see `BatchPreparer`). Its product numbers run over the
/// whole load, so the insert thread finds a product's dictionary number by array index after
/// the first batch that has it.
final class SQLiteBatchPreparer: BatchPreparer {
    /// Product numbers of a load kept at most (or a batch's rows, when more): past it, a
    /// new numbering is started.
    private let productLimit: Int
    private let maintainReportTables: Bool
    private var products = LoadProductNumbers()

    init(maintainReportTables: Bool, productLimit: Int) {
        self.maintainReportTables = maintainReportTables
        self.productLimit = productLimit
    }

    func prepare(_ rows: [OrderRow]) -> any PreparedBatch {
        guard maintainReportTables else { return SQLitePreparedBatch(rows: SQLiteEncodedRows(rows), cells: nil) }
        if products.count > 0 && products.count + rows.count > max(productLimit, rows.count) {
            products = LoadProductNumbers()
        }
        return SQLitePreparedBatch(rows: SQLiteEncodedRows(rows), cells: SQLitePreparedCells(rows, products: &products))
    }
}

/// A load's product numbers by (stock code, description), kept by its preparer from batch to batch.
struct LoadProductNumbers {
    private var interner = ProductInterner(expected: 4096, clearsAt: .max)
    private(set) var count = 0
    /// Scratch for grouping a batch: the batch's number of each load number, -1 for others.
    var batchNumbers: [Int32] = []
    /// Filled in by the insert thread; nil when the numbers serve one batch only.
    let refs: SQLiteLoadProductRefs?

    /// Numbers for the batches of one load.
    init() { refs = SQLiteLoadProductRefs() }

    /// Numbers for one batch, with no refs kept.
    init(batchOf rowCount: Int) {
        interner = ProductInterner(expected: min(rowCount, 8192), clearsAt: .max)
        refs = nil
    }

    mutating func number(code: String, description: String?) -> Int32 {
        if let known = interner.find(code: code, description: description) { return Int32(known) }
        interner.insert(code: code, description: description, ref: Int64(count))
        count += 1
        if batchNumbers.count < count { batchNumbers.append(-1) }
        return Int32(count - 1)
    }
}

/// The dictionary number of each product number of a load (-1 when not known yet).
///
/// `@unchecked Sendable`: the loading thread only creates it and passes it along inside the
/// prepared batches; `refs` is read and written by `SQLiteWriter` alone, under the warehouse's
/// writer lock, so by one thread at a time.
final class SQLiteLoadProductRefs: @unchecked Sendable {
    var refs: [Int64] = []
    /// `SQLiteWriter.dictionaryGeneration` when the refs were recorded: numbers handed out in
    /// a transaction that was rolled back, or before the tables were rebuilt, are not used.
    var generation = -1

    func ref(_ number: Int32) -> Int64? {
        let index = Int(number)
        guard index >= 0, index < refs.count, refs[index] >= 0 else { return nil }
        return refs[index]
    }

    func record(_ number: Int32, ref: Int64) {
        let index = Int(number)
        guard index >= 0 else { return }
        if index >= refs.count { refs.append(contentsOf: repeatElement(-1, count: index + 1 - refs.count)) }
        refs[index] = ref
    }
}

/// A batch as `SQLiteBatchPreparer` made it.
struct SQLitePreparedBatch: PreparedBatch {
    var rows: SQLiteEncodedRows
    /// Nil when loads do not keep the report tables.
    var cells: SQLitePreparedCells?
}

/// A batch's column values laid out in `SQLiteSchema.rowColumns` order for binding: every row's
/// key and texts back to back in one byte buffer, its numbers in one array, so binding walks
/// memory instead of reading `String`s.
struct SQLiteEncodedRows: Sendable {
    /// Text columns per row: invoice, stock code, description, customer, country.
    static let textsPerRow = 5
    /// Number columns per row: quantity, invoice time, invoice day, unit price, revenue,
    /// cancellation, product, source line.
    static let numbersPerRow = 8

    var rowCount: Int
    /// Per row: the 16-byte row key (big-endian halves), then its texts.
    var bytes: [UInt8] = []
    /// Per row and text column: the length in bytes, -1 for NULL.
    var textLengths: [Int32] = []
    var numbers: [Int64] = []

    init(_ rows: [OrderRow]) {
        rowCount = rows.count
        var byteCount = 0
        for row in rows {
            byteCount += 16 + row.invoiceNo.utf8.count + row.stockCode.utf8.count + (row.description?.utf8.count ?? 0)
                + (row.customerID?.utf8.count ?? 0) + row.country.utf8.count
        }
        bytes.reserveCapacity(byteCount)
        textLengths.reserveCapacity(rows.count * Self.textsPerRow)
        numbers.reserveCapacity(rows.count * Self.numbersPerRow)
        for row in rows {
            withUnsafeBytes(of: (row.rowKey.high.bigEndian, row.rowKey.low.bigEndian)) { bytes.append(contentsOf: $0) }
            append(row.invoiceNo)
            append(row.stockCode)
            append(row.description)
            append(row.customerID)
            append(row.country)
            numbers.append(row.quantity)
            numbers.append(row.invoiceTime.secondsSinceEpoch)
            numbers.append(row.invoiceTime.dayNumber)
            numbers.append(row.unitPrice.micros)
            numbers.append(row.revenue.micros)
            numbers.append(row.isCancellation ? 1 : 0)
            numbers.append(row.isProduct ? 1 : 0)
            numbers.append(row.sourceLine)
        }
    }

    private mutating func append(_ text: String?) {
        guard var text else {
            textLengths.append(-1)
            return
        }
        text.withUTF8 { bytes.append(contentsOf: $0) }
        textLengths.append(Int32(text.utf8.count))
    }

    /// Where binding stands in the batch: the next row's first byte and text length.
    struct Cursor {
        var byte = 0
        var text = 0
        var row = 0
    }

    /// Binds rows from `cursor` to fill `statement` (`rowCount` rows), with `uploadRef`, and
    /// moves the cursor past them. `base` is `bytes`' storage, unchanged until the statement ran.
    func bind(_ rowCount: Int, uploadRef: Int64, to statement: SQLiteStatement, base: UnsafePointer<UInt8>,
              from cursor: inout Cursor) {
        let handle = statement.handle
        var index: Int32 = 1
        textLengths.withUnsafeBufferPointer { lengths in
            numbers.withUnsafeBufferPointer { numbers in
                @inline(__always) func bindText() {
                    let length = lengths[cursor.text]
                    cursor.text += 1
                    if length < 0 {
                        sqlite3_bind_null(handle, index)
                    } else {
                        sqlite3_bind_text(handle, index, UnsafeRawPointer(base + cursor.byte).assumingMemoryBound(to: CChar.self),
                                          length, nil)
                        cursor.byte += Int(length)
                    }
                    index += 1
                }
                @inline(__always) func bindNumber(_ position: Int) {
                    sqlite3_bind_int64(handle, index, numbers[cursor.row * Self.numbersPerRow + position])
                    index += 1
                }
                for _ in 0..<rowCount {
                    sqlite3_bind_blob(handle, index, base + cursor.byte, 16, nil)
                    cursor.byte += 16
                    index += 1
                    sqlite3_bind_int64(handle, index, uploadRef)
                    index += 1
                    bindText()  // invoice_no
                    bindText()  // stock_code
                    bindText()  // description
                    bindNumber(0)  // quantity
                    bindNumber(1)  // invoice_time
                    bindNumber(2)  // invoice_day
                    bindNumber(3)  // unit_price_micros
                    bindNumber(4)  // revenue_micros
                    bindText()  // customer_id
                    bindText()  // country
                    bindNumber(5)  // is_cancellation
                    bindNumber(6)  // is_product
                    bindNumber(7)  // source_line
                    cursor.row += 1
                }
            }
        }
    }
}
