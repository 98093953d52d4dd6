// Keeping the report tables in step with the rows: the rows a batch really stored
// are gathered into cells in memory and merged into `report_cells` in the batch's
// own transaction, so the tables never disagree with the rows.

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

/// A cell's lines as gathered from one batch.
struct ReportCellLines {
    var lineCount: Int64 = 0
    var revenueMicros: Int64 = 0
    var units: Int64 = 0
    var packed: [UInt8] = []

    mutating func add(_ row: OrderRow, productRef: Int64) {
        lineCount += 1
        if row.isProduct {
            revenueMicros &+= row.revenue.micros
            units &+= row.quantity
        }
        ReportLinePacking.appendLine(productRef: productRef, isProduct: row.isProduct, quantity: row.quantity,
                                     revenueMicros: row.revenue.micros, to: &packed)
    }

    mutating func merge(_ other: ReportCellLines) {
        lineCount += other.lineCount
        revenueMicros &+= other.revenueMicros
        units &+= other.units
        packed.append(contentsOf: other.packed)
    }
}

/// Dictionary numbers the write connection has already looked up, so most rows need no query.
struct ReportRefCache {
    /// Place refs by region then country.
    var places: [String: [String: Int64]] = [:]
    /// Product refs by stock code, with the description each was numbered for.
    var products: [String: [(description: String?, ref: Int64)]] = [:]
    var customers: [String: Int64] = [:]
    var productCount = 0

    mutating func clear() {
        self = ReportRefCache()
    }
}

extension SQLiteWriter {
    /// Adds the rows of `rows` not in `skipped` (sorted positions: rows the table already held,
    /// or refused) to the report tables. Runs inside the caller's transaction.
    func recordReportCells(_ rows: [OrderRow], skipping skipped: [Int], uploadRef: Int64,
                           region: String) throws(WarehouseError) {
        var cells: [ReportCellKey: ReportCellLines] = [:]
        var invoiceRefs: [String: (ref: Int64, known: Bool)] = [:]
        var current: (key: ReportCellKey, lines: ReportCellLines, invoiceNo: String, country: String, customer: String?)?
        var placeRef: (country: String, ref: Int64)?
        var days: [Int64: (first: Int64, last: Int64)] = [:]
        var skipIndex = 0

        func flush() {
            guard let finished = current else { return }
            cells[finished.key, default: ReportCellLines()].merge(finished.lines)
        }

        for position in rows.indices {
            if skipIndex < skipped.count, skipped[skipIndex] == position {
                skipIndex += 1
                continue
            }
            let row = rows[position]
            let productRef = try self.productRef(code: row.stockCode, description: row.description)
            let time = row.invoiceTime.secondsSinceEpoch
            if let open = current, open.key.time == time, open.invoiceNo == row.invoiceNo, open.country == row.country,
               open.customer == row.customerID, open.key.cancellation == row.isCancellation {
                current!.lines.add(row, productRef: productRef)
                continue
            }
            flush()
            let place: Int64
            if let known = placeRef, known.country == row.country {
                place = known.ref
            } else {
                place = try self.placeRef(region: region, country: row.country)
                placeRef = (row.country, place)
            }
            let invoice: Int64
            if let known = invoiceRefs[row.invoiceNo] {
                invoice = known.ref
            } else {
                let found = try self.invoiceRef(invoiceNo: row.invoiceNo, region: region)
                invoiceRefs[row.invoiceNo] = found
                invoice = found.ref
            }
            let customer = try row.customerID.map { id throws(WarehouseError) in try customerRef(id) } ?? 0
            let day = row.invoiceTime.dayNumber
            let key = ReportCellKey(day: day, time: time, invoiceRef: invoice, placeRef: place, customerRef: customer,
                                    cancellation: row.isCancellation)
            var lines = ReportCellLines()
            lines.add(row, productRef: productRef)
            current = (key, lines, row.invoiceNo, row.country, row.customerID)
            let span = days[place] ?? (day, day)
            days[place] = (min(span.first, day), max(span.last, day))
        }
        flush()
        guard !cells.isEmpty else { return }

        let upsert = try connection.cached("""
            INSERT INTO report_cells (day, time, invoice_ref, upload_ref, place_ref, customer_ref, cancellation,
                                      line_count, revenue_micros, units, lines)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            ON CONFLICT DO UPDATE SET line_count = line_count + excluded.line_count,
                revenue_micros = revenue_micros + excluded.revenue_micros, units = units + excluded.units,
                lines = CAST(lines || excluded.lines AS BLOB)
            RETURNING line_count
            """)
        // Invoices known before this batch, or given a cell by it: a new cell of one of them makes it `multi`.
        var hasCell = Set<Int64>()
        for (ref, known) in invoiceRefs.values where known { hasCell.insert(ref) }
        var multi = Set<Int64>()
        for (key, lines) in cells.sorted(by: { ($0.key.day, $0.key.time, $0.key.invoiceRef) < ($1.key.day, $1.key.time, $1.key.invoiceRef) }) {
            upsert.bind(key.day, at: 1)
            upsert.bind(key.time, at: 2)
            upsert.bind(key.invoiceRef, at: 3)
            upsert.bind(uploadRef, at: 4)
            upsert.bind(key.placeRef, at: 5)
            upsert.bind(key.customerRef, at: 6)
            upsert.bind(key.cancellation, at: 7)
            upsert.bind(lines.lineCount, at: 8)
            upsert.bind(lines.revenueMicros, at: 9)
            upsert.bind(lines.units, at: 10)
            upsert.bind(bytes: lines.packed, at: 11)
            guard try upsert.step() else { throw .corruptValue("no cell returned") }
            let isNewCell = upsert.int64(0) == lines.lineCount
            try upsert.run()
            if isNewCell, !hasCell.insert(key.invoiceRef).inserted { multi.insert(key.invoiceRef) }
        }
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
        let statement = try connection.cached("""
            INSERT INTO report_places (region, country) VALUES (?1, ?2)
            ON CONFLICT DO UPDATE SET region = region RETURNING ref
            """)
        statement.bind(region, at: 1)
        statement.bind(country, at: 2)
        let ref = try returnedRef(statement)
        reportRefs.places[region, default: [:]][country] = ref
        return ref
    }

    private func productRef(code: String, description: String?) throws(WarehouseError) -> Int64 {
        if let variants = reportRefs.products[code] {
            for variant in variants where variant.description == description { return variant.ref }
        }
        let statement = try connection.cached("""
            INSERT INTO report_products (stock_code, description, described) VALUES (?1, ?2, ?3)
            ON CONFLICT DO UPDATE SET described = described RETURNING ref
            """)
        statement.bind(code, at: 1)
        statement.bind(description ?? "", at: 2)
        statement.bind(description != nil, at: 3)
        let ref = try returnedRef(statement)
        if reportRefs.productCount > 200_000 { reportRefs.products.removeAll() ; reportRefs.productCount = 0 }
        reportRefs.products[code, default: []].append((description, ref))
        reportRefs.productCount += 1
        return ref
    }

    private func customerRef(_ id: String) throws(WarehouseError) -> Int64 {
        if let ref = reportRefs.customers[id] { return ref }
        let statement = try connection.cached("""
            INSERT INTO report_customers (customer_id) VALUES (?1)
            ON CONFLICT DO UPDATE SET customer_id = customer_id RETURNING ref
            """)
        statement.bind(id, at: 1)
        let ref = try returnedRef(statement)
        if reportRefs.customers.count > 200_000 { reportRefs.customers.removeAll() }
        reportRefs.customers[id] = ref
        return ref
    }

    /// The invoice's ref, and whether it was numbered before this call.
    private func invoiceRef(invoiceNo: String, region: String) throws(WarehouseError) -> (ref: Int64, known: Bool) {
        let statement = try connection.cached("""
            INSERT INTO report_invoices (invoice_no, region) VALUES (?1, ?2)
            ON CONFLICT DO UPDATE SET known = 1 RETURNING ref, known
            """)
        statement.bind(invoiceNo, at: 1)
        statement.bind(region, at: 2)
        guard try statement.step() else { throw .corruptValue("no invoice reference returned") }
        let found = (statement.int64(0), statement.int64(1) != 0)
        try statement.run()
        return found
    }

    private func returnedRef(_ statement: SQLiteStatement) throws(WarehouseError) -> Int64 {
        guard try statement.step() else { throw .corruptValue("no reference returned") }
        let ref = statement.int64(0)
        try statement.run()
        return ref
    }
}

extension SQLiteWriter {
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
