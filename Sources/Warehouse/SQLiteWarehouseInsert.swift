// Loading rows: one transaction per batch, multi-row INSERT OR IGNORE
// statements prepared once, text bound in place from a reused byte arena.

import CNative
import ETL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SQLiteWriter {
    /// Stores a batch in one transaction; see `Warehouse.insert`.
    func insert(_ rows: [OrderRow], for upload: UploadContext, prepared: SQLitePreparedCells?) throws(WarehouseError) -> InsertResult {
        try connection.execute("BEGIN IMMEDIATE")
        do throws(WarehouseError) {
            let (ref, isNewRef) = try uploadRef(for: upload)
            var alreadyPresent: [Int] = []
            var rejected: [RejectedRow] = []
            var skipped: [Int] = []
            // Rows with a larger row id were stored by this transaction.
            let storedBefore = try lastRowID()
            var start = 0
            while start < rows.count {
                let count = min(options.rowsPerStatement, rows.count - start)
                let statement = try insertStatement(rowCount: count)
                bindRows(rows[start..<start + count], uploadRef: ref, to: statement)
                try statement.run()
                if connection.changes < count {
                    try sortIgnoredRows(rows, range: start..<start + count, uploadRef: ref,
                                        alreadyPresent: &alreadyPresent, rejected: &rejected, skipped: &skipped,
                                        storedBefore: storedBefore)
                }
                start += count
            }
            if options.maintainReportTables {
                try recordReportCells(rows, skipping: skipped, uploadRef: ref, region: upload.region, prepared: prepared)
            }
            try connection.execute("COMMIT")
            if isNewRef {
                if uploadRefs.count > 10_000 { uploadRefs.removeAll() }
                uploadRefs[upload.uploadID] = (upload, ref)
            }
            return InsertResult(
                inserted: rows.count - alreadyPresent.count - rejected.count,
                alreadyPresent: alreadyPresent, rejected: rejected)
        } catch {
            try? connection.execute("ROLLBACK")
            // Numbers handed out inside the transaction are gone with it.
            reportRefs.clear()
            throw error
        }
    }

    /// The largest row id of the rows table (0 when empty, or for the layout without row ids).
    private func lastRowID() throws(WarehouseError) -> Int64 {
        guard options.rowLayout != .withoutRowID else { return 0 }
        let statement = try connection.cached("SELECT coalesce(max(rowid), 0) FROM order_rows")
        defer { statement.reset() }
        return try statement.step() ? statement.int64(0) : 0
    }

    /// The `uploads.ref` of the upload, creating or updating its row with the
    /// per-upload constants when they are not known to be committed already.
    private func uploadRef(for upload: UploadContext) throws(WarehouseError) -> (ref: Int64, isNew: Bool) {
        if let known = uploadRefs[upload.uploadID], known.context == upload { return (known.ref, false) }
        let statement = try connection.cached("""
            INSERT INTO uploads (id, region, currency, source_uri, loaded_at_micros, object_uri,
                                 created_at_micros, updated_at_micros)
            VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?5, ?5)
            ON CONFLICT (id) DO UPDATE SET region = excluded.region, currency = excluded.currency,
                source_uri = excluded.source_uri, loaded_at_micros = excluded.loaded_at_micros
            RETURNING ref
            """)
        statement.bind(upload.uploadID, at: 1)
        statement.bind(upload.region, at: 2)
        statement.bind(upload.currency, at: 3)
        statement.bind(upload.sourceURI, at: 4)
        statement.bind(upload.loadedAtMicros, at: 5)
        guard try statement.step() else { throw .corruptValue("no upload reference returned") }
        let ref = statement.int64(0)
        try statement.run()
        return (ref, true)
    }

    private func insertStatement(rowCount: Int) throws(WarehouseError) -> SQLiteStatement {
        if let statement = insertStatements[rowCount] {
            sqlite3_reset(statement.handle)
            return statement
        }
        let placeholders = "(" + Array(repeating: "?", count: SQLiteSchema.rowColumns.count).joined(separator: ",") + ")"
        let sql = "INSERT OR IGNORE INTO order_rows (" + SQLiteSchema.rowColumns.joined(separator: ",") + ") VALUES "
            + Array(repeating: placeholders, count: rowCount).joined(separator: ",")
        let statement = try connection.prepare(sql)
        insertStatements[rowCount] = statement
        return statement
    }

    /// Binds the rows' values in `SQLiteSchema.rowColumns` order. Row keys and
    /// text are copied into the arena once and bound without another copy.
    private func bindRows(_ rows: ArraySlice<OrderRow>, uploadRef: Int64, to statement: SQLiteStatement) {
        var bytesNeeded = 0
        for row in rows {
            bytesNeeded += 16 + row.invoiceNo.utf8.count + row.stockCode.utf8.count + row.country.utf8.count
                + (row.description?.utf8.count ?? 0) + (row.customerID?.utf8.count ?? 0)
        }
        reserveArena(bytesNeeded)
        let handle = statement.handle
        var offset = 0
        var index: Int32 = 1

        func bindText(_ text: String?) {
            guard let text else {
                sqlite3_bind_null(handle, index)
                index += 1
                return
            }
            let destination = arena + offset
            let length = copyUTF8(text, to: destination)
            offset += length
            sqlite3_bind_text(handle, index, destination.assumingMemoryBound(to: CChar.self), Int32(length), nil)
            index += 1
        }
        func bindInteger(_ value: Int64) {
            sqlite3_bind_int64(handle, index, value)
            index += 1
        }

        for row in rows {
            let key = arena + offset
            key.storeBytes(of: row.rowKey.high.bigEndian, toByteOffset: 0, as: UInt64.self)
            key.storeBytes(of: row.rowKey.low.bigEndian, toByteOffset: 8, as: UInt64.self)
            offset += 16
            sqlite3_bind_blob(handle, index, key, 16, nil)
            index += 1
            bindInteger(uploadRef)
            bindText(row.invoiceNo)
            bindText(row.stockCode)
            bindText(row.description)
            bindInteger(row.quantity)
            bindInteger(row.invoiceTime.secondsSinceEpoch)
            bindInteger(row.invoiceTime.dayNumber)
            bindInteger(row.unitPrice.micros)
            bindInteger(row.revenue.micros)
            bindText(row.customerID)
            bindText(row.country)
            bindInteger(row.isCancellation ? 1 : 0)
            bindInteger(row.isProduct ? 1 : 0)
            bindInteger(row.sourceLine)
        }
    }

    /// Looks up the rows of a statement that stored fewer rows than it had:
    /// a row whose key is held by this upload and line counts as stored (a
    /// resumed load); one held by another upload or line is already present.
    /// Every row not stored now goes to `skipped`, in order.
    private func sortIgnoredRows(
        _ rows: [OrderRow], range: Range<Int>, uploadRef: Int64,
        alreadyPresent: inout [Int], rejected: inout [RejectedRow], skipped: inout [Int], storedBefore: Int64
    ) throws(WarehouseError) {
        let withRowID = options.rowLayout != .withoutRowID
        let lookup = try connection.cached(
            "SELECT upload_ref, source_line, \(withRowID ? "rowid" : "0") FROM order_rows WHERE row_key = ?1")
        for position in range {
            let row = rows[position]
            var key = (row.rowKey.high.bigEndian, row.rowKey.low.bigEndian)
            sqlite3_reset(lookup.handle)
            withUnsafeBytes(of: &key) { bytes in
                _ = cn_sqlite3_bind_blob_transient(lookup.handle, 1, bytes.baseAddress, 16)
            }
            if try lookup.step() {
                let isThisRow = lookup.int64(0) == uploadRef && lookup.int64(1) == row.sourceLine
                // The statement's own rows are found too: stored now, unless stored before this transaction.
                if !(isThisRow && withRowID && lookup.int64(2) > storedBefore) { skipped.append(position) }
                if !isThisRow { alreadyPresent.append(position) }
            } else {
                skipped.append(position)
                rejected.append(RejectedRow(
                    line: row.sourceLine, reason: "warehouse_refused", message: "the warehouse did not store the row"))
            }
        }
        sqlite3_reset(lookup.handle)
    }
}

/// Copies the UTF-8 bytes of `text` to `destination`; returns the count.
private func copyUTF8(_ text: String, to destination: UnsafeMutableRawPointer) -> Int {
    let utf8 = text.utf8
    if let count = utf8.withContiguousStorageIfAvailable({ bytes -> Int in
        if let base = bytes.baseAddress { memcpy(destination, base, bytes.count) }
        return bytes.count
    }) {
        return count
    }
    var count = 0
    for byte in utf8 {
        destination.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }
    return count
}
