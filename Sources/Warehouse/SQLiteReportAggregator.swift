// Keeping the report tables in step with the rows: the rows a batch really stored
// are gathered into cells in memory and written as one `report_chunks` row in the
// batch's own transaction, so the tables never disagree with the rows.

import CNative
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

    @inline(__always)
    mutating func add(_ row: borrowing OrderRow, productRef: Int64) {
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
    var products = ProductInterner()
    var customers: [String: Int64] = [:]

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
        // The cell being filled: rows of a cell mostly come one after another.
        var openKey: ReportCellKey?
        var openLines = ReportCellLines()
        var openInvoiceNo = ""
        var openCountry = ""
        var openCustomer: String?
        var placeRef: (country: String, ref: Int64)?
        var days: [Int64: (first: Int64, last: Int64)] = [:]
        var skipIndex = 0

        func flush() {
            guard let key = openKey else { return }
            if cells[key] == nil {
                cells[key] = openLines
            } else {
                cells[key]!.merge(openLines)
            }
            openLines = ReportCellLines()
        }

        try rows.withUnsafeBufferPointer { rows throws(WarehouseError) in
            for position in rows.indices {
                if skipIndex < skipped.count, skipped[skipIndex] == position {
                    skipIndex += 1
                    continue
                }
                let productRef = try self.productRef(code: rows[position].stockCode, description: rows[position].description)
                let time = rows[position].invoiceTime.secondsSinceEpoch
                if let key = openKey, key.time == time, key.cancellation == rows[position].isCancellation,
                   openInvoiceNo == rows[position].invoiceNo, openCountry == rows[position].country,
                   openCustomer == rows[position].customerID {
                    openLines.add(rows[position], productRef: productRef)
                    continue
                }
                flush()
                let row = rows[position]
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
                openKey = ReportCellKey(day: day, time: time, invoiceRef: invoice, placeRef: place, customerRef: customer,
                                        cancellation: row.isCancellation)
                openInvoiceNo = row.invoiceNo
                openCountry = row.country
                openCustomer = row.customerID
                openLines.add(row, productRef: productRef)
                let span = days[place] ?? (day, day)
                days[place] = (min(span.first, day), max(span.last, day))
            }
        }
        flush()
        guard !cells.isEmpty else { return }

        // Invoices known before this batch, or given a cell by it: another cell of one of them makes it `multi`.
        var hasCell = Set<Int64>()
        for (ref, known) in invoiceRefs.values where known { hasCell.insert(ref) }
        var multi = Set<Int64>()
        var cellBytes: [UInt8] = []
        cellBytes.reserveCapacity(cells.count * ReportCellRecord.size)
        var lineBytes: [UInt8] = []
        var firstDay = Int64.max
        var lastDay = Int64.min
        for (key, lines) in cells.sorted(by: { ($0.key.day, $0.key.time, $0.key.invoiceRef) < ($1.key.day, $1.key.time, $1.key.invoiceRef) }) {
            if !hasCell.insert(key.invoiceRef).inserted { multi.insert(key.invoiceRef) }
            lineBytes.append(contentsOf: lines.packed)
            ReportCellRecord.append(
                day: key.day, time: key.time, invoiceRef: key.invoiceRef, placeRef: key.placeRef, customerRef: key.customerRef,
                cancellation: key.cancellation, lineCount: lines.lineCount, linesEnd: lineBytes.count,
                revenueMicros: lines.revenueMicros, units: lines.units, to: &cellBytes)
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
        chunk.bind(cells.count, at: 4)
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

    /// The invoice's ref, and whether it was numbered before this call.
    private func invoiceRef(invoiceNo: String, region: String) throws(WarehouseError) -> (ref: Int64, known: Bool) {
        let found = try numbered(
            insert: "INSERT OR IGNORE INTO report_invoices (invoice_no, region) VALUES (?1, ?2)",
            select: "SELECT ref FROM report_invoices WHERE invoice_no = ?1 AND region = ?2") { statement in
            statement.bind(invoiceNo, at: 1)
            statement.bind(region, at: 2)
        }
        return (found.ref, !found.isNew)
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

/// Product numbers by stock code and description: an open-addressing table with a cheap
/// hash of the two texts' bytes, looked up once per stored row.
struct ProductInterner {
    private var slots = [Int32](repeating: -1, count: 1024)
    private var hashes: [UInt64] = []
    private var codes: [String] = []
    private var descriptions: [String?] = []
    private var refs: [Int64] = []

    /// A hash of the stock code only (a code has few descriptions; they are told apart by comparison).
    @inline(__always)
    private static func hash(_ code: String, _ description: String?) -> UInt64 {
        let hashed = code.utf8.withContiguousStorageIfAvailable { bytes -> UInt64 in
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
            let raw = UnsafeRawBufferPointer(bytes)
            var offset = 0
            while offset + 8 <= raw.count {
                state = (state ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
                state ^= state >> 32
                offset += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while offset < raw.count {
                tail |= UInt64(raw[offset]) << shift
                shift += 8
                offset += 1
            }
            state = (state ^ tail) &* 0xC4CE_B9FE_1A85_EC53
            return state ^ (state >> 29)
        }
        if let hashed { return hashed }
        var hasher = Hasher()
        hasher.combine(code)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    func find(code: String, description: String?) -> Int64? {
        let hash = Self.hash(code, description)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = Int(slots[slot])
            if entry < 0 { return nil }
            if hashes[entry] == hash, codes[entry] == code, descriptions[entry] == description { return refs[entry] }
            slot = (slot + 1) & mask
        }
    }

    mutating func insert(code: String, description: String?, ref: Int64) {
        if refs.count >= 500_000 { self = ProductInterner() }
        if (refs.count + 1) * 2 > slots.count { grow() }
        let hash = Self.hash(code, description)
        hashes.append(hash)
        codes.append(code)
        descriptions.append(description)
        refs.append(ref)
        place(refs.count - 1, hash: hash)
    }

    private mutating func place(_ entry: Int, hash: UInt64) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(entry)
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        for entry in refs.indices { place(entry, hash: hashes[entry]) }
    }
}
