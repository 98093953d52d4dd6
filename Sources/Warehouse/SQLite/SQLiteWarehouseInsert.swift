// Loading rows: one transaction per batch, multi-row INSERT OR IGNORE
// statements prepared once, values bound in place from the batch's encoded rows.

import CSQLite
import ETL

extension SQLiteWriter {
    /// Stores a batch in one transaction; see `Warehouse.insert`.
    /// `encoded` holds the same rows laid out for binding; `cells`, their report cells when
    /// prepared already (nil: grouped here).
    func insert(_ rows: [OrderRow], for upload: UploadContext, encoded: SQLiteEncodedRows,
                cells: SQLitePreparedCells?) throws(WarehouseError) -> InsertResult {
        try connection.execute("BEGIN IMMEDIATE")
        do throws(WarehouseError) {
            let (ref, isNewRef) = try uploadRef(for: upload)
            var alreadyPresent: [Int] = []
            var rejected: [RejectedRow] = []
            var skipped: [Int] = []
            // Rows with a larger row id were stored by this transaction.
            let storedBefore = try lastRowID()
            try encoded.bytes.withUnsafeBufferPointer { bytes throws(WarehouseError) in
                guard let base = bytes.baseAddress else { return }
                var cursor = SQLiteEncodedRows.Cursor()
                var start = 0
                while start < rows.count {
                    let count = min(options.rowsPerStatement, rows.count - start)
                    let statement = try insertStatement(rowCount: count)
                    encoded.bind(count, uploadRef: ref, to: statement, base: base, from: &cursor)
                    try statement.run()
                    if connection.changes < count {
                        try sortIgnoredRows(rows, range: start..<start + count, uploadRef: ref,
                                            alreadyPresent: &alreadyPresent, rejected: &rejected, skipped: &skipped,
                                            storedBefore: storedBefore)
                    }
                    start += count
                }
            }
            if options.maintainReportTables {
                try recordReportCells(rows, skipping: skipped, uploadRef: ref, region: upload.region, prepared: cells)
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
            forgetDictionaryNumbers()
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
