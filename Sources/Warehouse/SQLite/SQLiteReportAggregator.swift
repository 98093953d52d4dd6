// Keeping the report tables in step with the rows: the rows a batch really stored
// are gathered into cells in memory and written as one `report_chunks` row in the
// batch's own transaction, so the tables never disagree with the rows.

import CSQLite
import ETL

/// The identity of a cell (see `SQLiteReportSchema`).
struct ReportCellKey: Hashable {
    var day: Int64
    var time: Int64
    var invoiceRef: Int64
    var placeRef: Int64
    var customerRef: Int64
    var cancellation: Bool
}

/// Dictionary numbers the write connection has already looked up, so most rows need no query.
struct ReportRefCache {
    /// Place refs by region then country.
    var places: [String: [String: Int64]] = [:]
    var products = ProductInterner()
    var customers: [String: Int64] = [:]

    mutating func clear() {
        self = ReportRefCache()
    }
}

extension SQLiteWriter {
    /// Adds the rows of `rows` not in `skipped` (sorted positions: rows the table already held,
    /// or refused) to the report tables, from `prepared` (made from the same rows) or grouped
    /// here. Runs inside the caller's transaction.
    func recordReportCells(_ rows: [OrderRow], skipping skipped: [Int], uploadRef: Int64, region: String,
                           prepared: SQLitePreparedCells? = nil) throws(WarehouseError) {
        let prepared = prepared ?? SQLitePreparedCells(rows)
        guard prepared.rowCount == rows.count else { throw .corruptValue("prepared cells of another batch") }
        var isSkipped: [Bool] = []
        if !skipped.isEmpty {
            isSkipped = [Bool](repeating: false, count: rows.count)
            for position in skipped { isSkipped[position] = true }
        }
        // Cells with a row stored now.
        let live = prepared.cells.indices.filter { cell in
            isSkipped.isEmpty || (Int(prepared.rowStart[cell])..<Int(prepared.rowStart[cell + 1])).contains {
                !isSkipped[Int(prepared.rowsByCell[$0])]
            }
        }
        guard !live.isEmpty else { return }
        var palette: [Int64] = []
        palette.reserveCapacity(prepared.products.count)
        let loadRefs = prepared.productRefs
        if let loadRefs, loadRefs.generation != dictionaryGeneration {
            loadRefs.refs.removeAll()
            loadRefs.generation = dictionaryGeneration
        }
        for number in prepared.productLoadNumbers.indices {
            let loadNumber = prepared.productLoadNumbers[number]
            if let known = loadRefs?.ref(loadNumber) {
                palette.append(known)
            } else {
                let product = prepared.products[number]
                let ref = try productRef(code: product.code, description: product.description)
                loadRefs?.record(loadNumber, ref: ref)
                palette.append(ref)
            }
        }
        // The invoices of the cells stored now, each with its first and last time in this batch:
        // the rows of an invoice's lines lie between.
        let invoices: BatchInvoices
        var positionOfInvoice: [Int32] = []
        if live.count == prepared.cells.count {
            invoices = prepared.invoices
        } else {
            var stored = BatchInvoices()
            positionOfInvoice = [Int32](repeating: -1, count: prepared.invoices.numbers.count)
            for index in live {
                let cell = prepared.cells[index]
                let invoice = Int(cell.invoice)
                if positionOfInvoice[invoice] < 0 {
                    positionOfInvoice[invoice] = Int32(stored.numbers.count)
                    stored.numbers.append(prepared.invoices.numbers[invoice])
                    stored.first.append(cell.time)
                    stored.last.append(cell.time)
                }
                stored.widen(Int(positionOfInvoice[invoice]), to: cell.time)
            }
            stored.encode()
            invoices = stored
        }
        let invoiceRefs = try invoiceRefs(invoices, region: region)
        var keys: [(key: ReportCellKey, cell: Int)] = []
        keys.reserveCapacity(live.count)
        var placeRef: (country: String, ref: Int64)?
        var days: [Int64: (first: Int64, last: Int64)] = [:]
        for index in live {
            let cell = prepared.cells[index]
            let place: Int64
            if let known = placeRef, known.country == cell.country {
                place = known.ref
            } else {
                place = try self.placeRef(region: region, country: cell.country)
                placeRef = (cell.country, place)
            }
            let position = positionOfInvoice.isEmpty ? Int(cell.invoice) : Int(positionOfInvoice[Int(cell.invoice)])
            let invoice = invoiceRefs.refs[position]
            let customer = try cell.customerID.map { id throws(WarehouseError) in try customerRef(id) } ?? 0
            keys.append((ReportCellKey(day: cell.day, time: cell.time, invoiceRef: invoice, placeRef: place,
                                       customerRef: customer, cancellation: cell.cancellation), index))
            let span = days[place] ?? (cell.day, cell.day)
            days[place] = (min(span.first, cell.day), max(span.last, cell.day))
        }
        keys.sort { ($0.key.day, $0.key.time, $0.key.invoiceRef) < ($1.key.day, $1.key.time, $1.key.invoiceRef) }

        // Invoices known before this batch, or given a cell by it: another cell of one of them makes it `multi`.
        var hasCell = Set<Int64>()
        for (ref, known) in zip(invoiceRefs.refs, invoiceRefs.known) where known { hasCell.insert(ref) }
        var multi = Set<Int64>()
        var cellBytes: [UInt8] = []
        cellBytes.reserveCapacity(keys.count * ReportCellRecord.size)
        var lineBytes: [UInt8] = []
        lineBytes.reserveCapacity(prepared.packed.count + rows.count * 2)
        var firstDay = Int64.max
        var lastDay = Int64.min
        var cellCount = 0
        for (key, index) in keys {
            // The lines again, with the warehouse's product numbers and without the rows not stored now.
            var lineCount: Int64 = 0
            var revenue: Int64 = 0
            var units: Int64 = 0
            let firstRow = Int(prepared.rowStart[index])
            prepared.packed.withUnsafeBufferPointer { packed in
                guard let base = packed.baseAddress else { return }
                let start = Int(prepared.packedStart[index])
                var lines = PackedLines(base + start, count: Int(prepared.packedStart[index + 1]) - start)
                var line = 0
                while let next = lines.next() {
                    defer { line += 1 }
                    if !isSkipped.isEmpty, isSkipped[Int(prepared.rowsByCell[firstRow + line])] { continue }
                    lineCount += 1
                    if next.isProduct {
                        revenue &+= next.revenue
                        units &+= next.quantity
                    }
                    ReportLinePacking.appendLine(productRef: palette[next.product], isProduct: next.isProduct,
                                                 quantity: next.quantity, revenueMicros: next.revenue, to: &lineBytes)
                }
            }
            guard lineCount > 0 else { continue }
            if !hasCell.insert(key.invoiceRef).inserted { multi.insert(key.invoiceRef) }
            ReportCellRecord.append(
                day: key.day, time: key.time, invoiceRef: key.invoiceRef, placeRef: key.placeRef, customerRef: key.customerRef,
                cancellation: key.cancellation, lineCount: lineCount, linesEnd: lineBytes.count,
                revenueMicros: revenue, units: units, to: &cellBytes)
            cellCount += 1
            firstDay = min(firstDay, key.day)
            lastDay = max(lastDay, key.day)
        }
        let chunk = try connection.cached("""
            INSERT INTO report_chunks (upload_ref, first_day, last_day, cell_count, cells, lines)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            """)
        chunk.bind(uploadRef, at: 1)
        chunk.bind(firstDay, at: 2)
        chunk.bind(lastDay, at: 3)
        chunk.bind(cellCount, at: 4)
        chunk.bind(bytes: cellBytes, at: 5)
        chunk.bind(bytes: lineBytes, at: 6)
        try chunk.run()
        if !multi.isEmpty {
            let mark = try connection.cached("UPDATE report_invoices SET multi = 1 WHERE ref = ?1")
            for ref in multi {
                mark.bind(ref, at: 1)
                try mark.run()
            }
        }
        let span = try connection.cached("""
            INSERT INTO report_upload_places (upload_ref, place_ref, first_day, last_day) VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT DO UPDATE SET first_day = min(first_day, excluded.first_day), last_day = max(last_day, excluded.last_day)
            """)
        for (place, days) in days {
            span.bind(uploadRef, at: 1)
            span.bind(place, at: 2)
            span.bind(days.first, at: 3)
            span.bind(days.last, at: 4)
            try span.run()
        }
    }

    private func placeRef(region: String, country: String) throws(WarehouseError) -> Int64 {
        if let ref = reportRefs.places[region]?[country] { return ref }
        let ref = try numbered(
            insert: "INSERT OR IGNORE INTO report_places (region, country) VALUES (?1, ?2)",
            select: "SELECT ref FROM report_places WHERE region = ?1 AND country = ?2") { statement in
            statement.bind(region, at: 1)
            statement.bind(country, at: 2)
        }.ref
        reportRefs.places[region, default: [:]][country] = ref
        return ref
    }

    private func productRef(code: String, description: String?) throws(WarehouseError) -> Int64 {
        if let ref = reportRefs.products.find(code: code, description: description) { return ref }
        let ref = try numbered(
            insert: "INSERT OR IGNORE INTO report_products (stock_code, description, described) VALUES (?1, ?2, ?3)",
            select: "SELECT ref FROM report_products WHERE stock_code = ?1 AND description = ?2 AND described = ?3") { statement in
            statement.bind(code, at: 1)
            statement.bind(description ?? "", at: 2)
            statement.bind(description != nil, at: 3)
        }.ref
        reportRefs.products.insert(code: code, description: description, ref: ref)
        return ref
    }

    private func customerRef(_ id: String) throws(WarehouseError) -> Int64 {
        if let ref = reportRefs.customers[id] { return ref }
        let ref = try numbered(
            insert: "INSERT OR IGNORE INTO report_customers (customer_id) VALUES (?1)",
            select: "SELECT ref FROM report_customers WHERE customer_id = ?1") { $0.bind(id, at: 1) }.ref
        if reportRefs.customers.count > 200_000 { reportRefs.customers.removeAll() }
        reportRefs.customers[id] = ref
        return ref
    }

    /// The numbers of the region's invoices (by position in `invoices`), and whether each was
    /// numbered before this call: the known ones in one query, the new ones added in one
    /// statement (their row ids follow one another in the order of the array, as nothing else
    /// writes meanwhile). Joins, not `IN (SELECT …)`, which would build a temporary index each
    /// time. Each invoice's time span is widened to take in this batch's.
    private func invoiceRefs(_ invoices: BatchInvoices, region: String) throws(WarehouseError)
        -> (refs: [Int64], known: [Bool]) {
        var refs = [Int64](repeating: 0, count: invoices.numbers.count)
        var known = [Bool](repeating: false, count: invoices.numbers.count)
        let existing = try connection.cached("""
            SELECT j.key, i.ref, i.first_time, i.last_time FROM json_each(?1) j
            JOIN report_invoices i ON i.invoice_no = j.value AND i.region = ?2
            """)
        existing.bind(utf8: invoices.numbersJSON, at: 1)
        existing.bind(region, at: 2)
        var widen: [(ref: Int64, first: Int64, last: Int64)] = []
        var foundCount = 0
        do {
            defer { existing.reset() }
            while try existing.step() {
                let position = Int(existing.int64(0))
                guard position >= 0, position < refs.count, !known[position] else { continue }
                let ref = existing.int64(1)
                refs[position] = ref
                known[position] = true
                foundCount += 1
                let (first, last) = (existing.int64(2), existing.int64(3))
                let span = (first: invoices.first[position], last: invoices.last[position])
                if span.first < first || span.last > last { widen.append((ref, min(first, span.first), max(last, span.last))) }
            }
        }
        if !widen.isEmpty {
            let update = try connection.cached("UPDATE report_invoices SET first_time = ?2, last_time = ?3 WHERE ref = ?1")
            for span in widen {
                update.bind(span.ref, at: 1)
                update.bind(span.first, at: 2)
                update.bind(span.last, at: 3)
                try update.run()
            }
        }
        guard foundCount < refs.count else { return (refs, known) }
        let missing = known.indices.filter { !known[$0] }
        // [[invoice number, first time, last time], …]
        let json = foundCount == 0 ? [UInt8(ascii: "[")] + invoices.rowsJSON + [UInt8(ascii: "]")]
            : invoices.rowsJSON(at: missing)
        let insert = try connection.cached("""
            INSERT INTO report_invoices (invoice_no, region, first_time, last_time)
            SELECT json_extract(value, '$[0]'), ?2, json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?1)
            """)
        insert.bind(utf8: json, at: 1)
        insert.bind(region, at: 2)
        try insert.run()
        guard connection.changes == missing.count else { throw .corruptValue("new invoices were not all numbered") }
        let last = sqlite3_last_insert_rowid(connection.handle)
        for (offset, position) in missing.enumerated() {
            refs[position] = last - Int64(missing.count - 1 - offset)
        }
        return (refs, known)
    }

    /// The number of a dictionary entry: inserted (new, the row id just given) or looked up.
    /// Plain statements: a RETURNING clause costs an ephemeral table each time.
    private func numbered(insert: String, select: String, _ bind: (SQLiteStatement) -> Void)
        throws(WarehouseError) -> (ref: Int64, isNew: Bool) {
        let inserting = try connection.cached(insert)
        bind(inserting)
        try inserting.run()
        if connection.changes == 1 { return (sqlite3_last_insert_rowid(connection.handle), true) }
        let selecting = try connection.cached(select)
        defer { selecting.reset() }
        bind(selecting)
        guard try selecting.step() else { throw .corruptValue("a dictionary entry is missing after its insert") }
        return (selecting.int64(0), false)
    }
}

extension SQLiteWriter {
    /// Creates the report tables; when they are missing or of another layout, builds them anew
    /// from the stored rows. Runs inside the caller's transaction.
    func prepareReportTables() throws(WarehouseError) {
        var found = 0
        if try connection.integer(SQLiteReportSchema.metaTableExists) == 1 {
            found = Int(try connection.integer("SELECT coalesce(max(version), 0) FROM report_meta"))
        }
        guard found != SQLiteReportSchema.version else {
            try connection.execute(SQLiteReportSchema.tables)
            return
        }
        for table in SQLiteReportSchema.tableNames { try connection.execute("DROP TABLE IF EXISTS \(table)") }
        forgetDictionaryNumbers()
        try connection.execute(SQLiteReportSchema.tables)
        try connection.execute(SQLiteReportSchema.meta)
        try connection.execute("INSERT INTO report_meta (version) VALUES (\(SQLiteReportSchema.version))")
        try rebuildReportTables()
    }

    /// Fills the report tables from the stored rows, upload by upload in row order: for a
    /// database made before them. Runs inside the caller's transaction.
    func rebuildReportTables() throws(WarehouseError) {
        let uploads = try connection.prepare("SELECT ref, region FROM uploads ORDER BY ref")
        defer { uploads.finalize() }
        var refs: [(ref: Int64, region: String)] = []
        while try uploads.step() { refs.append((uploads.int64(0), uploads.text(1) ?? "")) }
        let rows = try connection.prepare("""
            SELECT invoice_no, stock_code, description, quantity, invoice_time, unit_price_micros, revenue_micros,
                   customer_id, country, is_cancellation, is_product, source_line
            FROM order_rows WHERE upload_ref = ?1 ORDER BY rowid
            """)
        defer { rows.finalize() }
        for upload in refs {
            rows.bind(upload.ref, at: 1)
            var batch: [OrderRow] = []
            func flush() throws(WarehouseError) {
                try recordReportCells(batch, skipping: [], uploadRef: upload.ref, region: upload.region)
                batch.removeAll(keepingCapacity: true)
            }
            while try rows.step() {
                batch.append(OrderRow(
                    rowKey: RowKey(high: 0, low: 0), invoiceNo: rows.text(0) ?? "", stockCode: rows.text(1) ?? "",
                    description: rows.text(2), quantity: rows.int64(3),
                    invoiceTime: LocalDateTime(secondsSinceEpoch: rows.int64(4)),
                    unitPrice: ExactDecimal(micros: rows.int64(5)), revenue: ExactDecimal(micros: rows.int64(6)),
                    customerID: rows.text(7), country: rows.text(8) ?? "", isCancellation: rows.int64(9) != 0,
                    isProduct: rows.int64(10) != 0, sourceLine: rows.int64(11)))
                if batch.count >= 20_000 { try flush() }
            }
            try flush()
            rows.reset()
        }
    }
}
