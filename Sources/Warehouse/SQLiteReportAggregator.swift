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

/// A batch grouped into cells by text (invoice, time, country, customer, cancellation) with its
/// products numbered within the batch: the part of the report tables' upkeep that needs no
/// database, done by `SQLiteWarehouse.prepareInsert` on the loading thread.
struct SQLitePreparedCells: PreparedBatch {
    struct Cell: Sendable {
        var day: Int64
        var time: Int64
        var invoiceNo: String
        var country: String
        var customerID: String?
        var cancellation: Bool
        /// Positions of its rows in the batch.
        var rows: [Int32]
    }

    private struct Key: Hashable {
        var time: Int64
        var invoiceNo: String
        var country: String
        var customerID: String?
        var cancellation: Bool
    }

    var cells: [Cell] = []
    /// The batch's product of each row.
    var rowProduct: [Int32] = []
    /// The batch's products (stock code, description).
    var products: [(code: String, description: String?)] = []

    init(_ rows: [OrderRow]) {
        var numbers = ProductInterner()
        var cellOfKey: [Key: Int] = [:]
        var open = -1
        rowProduct.reserveCapacity(rows.count)
        rows.withUnsafeBufferPointer { rows in
            for position in rows.indices {
                let code = rows[position].stockCode
                let description = rows[position].description
                if let known = numbers.find(code: code, description: description) {
                    rowProduct.append(Int32(known))
                } else {
                    numbers.insert(code: code, description: description, ref: Int64(products.count))
                    rowProduct.append(Int32(products.count))
                    products.append((code, description))
                }
                let time = rows[position].invoiceTime.secondsSinceEpoch
                // Rows of a cell mostly come one after another.
                if open >= 0, cells[open].time == time, cells[open].cancellation == rows[position].isCancellation,
                   cells[open].invoiceNo == rows[position].invoiceNo, cells[open].country == rows[position].country,
                   cells[open].customerID == rows[position].customerID {
                    cells[open].rows.append(Int32(position))
                    continue
                }
                let row = rows[position]
                let key = Key(time: time, invoiceNo: row.invoiceNo, country: row.country, customerID: row.customerID,
                              cancellation: row.isCancellation)
                if let known = cellOfKey[key] {
                    open = known
                    cells[open].rows.append(Int32(position))
                    continue
                }
                open = cells.count
                cellOfKey[key] = open
                cells.append(Cell(day: row.invoiceTime.dayNumber, time: time, invoiceNo: row.invoiceNo, country: row.country,
                                  customerID: row.customerID, cancellation: row.isCancellation, rows: [Int32(position)]))
            }
        }
    }
}

extension SQLiteWriter {
    /// Adds the rows of `rows` not in `skipped` (sorted positions: rows the table already held,
    /// or refused) to the report tables, from `prepared` (made from the same rows) or grouped
    /// here. Runs inside the caller's transaction.
    func recordReportCells(_ rows: [OrderRow], skipping skipped: [Int], uploadRef: Int64, region: String,
                           prepared: SQLitePreparedCells? = nil) throws(WarehouseError) {
        let prepared = prepared ?? SQLitePreparedCells(rows)
        guard prepared.rowProduct.count == rows.count else { throw .corruptValue("prepared cells of another batch") }
        var palette: [Int64] = []
        palette.reserveCapacity(prepared.products.count)
        for product in prepared.products {
            palette.append(try productRef(code: product.code, description: product.description))
        }
        var isSkipped: [Bool] = []
        if !skipped.isEmpty {
            isSkipped = [Bool](repeating: false, count: rows.count)
            for position in skipped { isSkipped[position] = true }
        }
        var cells: [(key: ReportCellKey, lines: ReportCellLines)] = []
        cells.reserveCapacity(prepared.cells.count)
        var invoiceRefs: [String: (ref: Int64, known: Bool)] = [:]
        var placeRef: (country: String, ref: Int64)?
        var days: [Int64: (first: Int64, last: Int64)] = [:]
        try rows.withUnsafeBufferPointer { rows throws(WarehouseError) in
            for cell in prepared.cells {
                var lines = ReportCellLines()
                for position in cell.rows {
                    let index = Int(position)
                    if !isSkipped.isEmpty, isSkipped[index] { continue }
                    lines.add(rows[index], productRef: palette[Int(prepared.rowProduct[index])])
                }
                guard lines.lineCount > 0 else { continue }
                let place: Int64
                if let known = placeRef, known.country == cell.country {
                    place = known.ref
                } else {
                    place = try self.placeRef(region: region, country: cell.country)
                    placeRef = (cell.country, place)
                }
                let invoice: Int64
                if let known = invoiceRefs[cell.invoiceNo] {
                    invoice = known.ref
                } else {
                    let found = try self.invoiceRef(invoiceNo: cell.invoiceNo, region: region)
                    invoiceRefs[cell.invoiceNo] = found
                    invoice = found.ref
                }
                let customer = try cell.customerID.map { id throws(WarehouseError) in try customerRef(id) } ?? 0
                cells.append((ReportCellKey(day: cell.day, time: cell.time, invoiceRef: invoice, placeRef: place,
                                            customerRef: customer, cancellation: cell.cancellation), lines))
                let span = days[place] ?? (cell.day, cell.day)
                days[place] = (min(span.first, cell.day), max(span.last, cell.day))
            }
        }
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
