// Reading the report tables: what a question needs to know before it reads the cells
// (which uploads are visible, which places and products match its filter, which
// invoices have several cells), and one pass over the cells of its date range.
//
// Cost: one read of the cells of the date range (about one per invoice), plus the
// small dictionary tables; the packed lines are decoded only for a product filter
// or a breakdown by product. Memory: bit sets over invoice and customer numbers
// and one entry per group; the invoice list holds one entry per matching invoice.

import CSQLite
import ETL

/// The dictionary facts a question needs, read once per question.
struct ReportScanContext {
    /// Visible (finished) uploads, by upload ref.
    var visibleUploads: [Bool]
    /// Places that pass the region, country and allowed-region filters, by place ref.
    var placeMatches: [Bool]
    var placeRegions: [String]
    var placeCountries: [String]
    /// Products that pass the product filter, by product ref; nil without a product filter.
    var productMatches: [Bool]?
    /// Invoices with more than one cell, by invoice ref.
    var multiInvoices: [Bool]
    /// One more than the largest invoice and customer refs.
    var invoiceLimit: Int
    var customerLimit: Int
    var fromDay: Int64
    var toDay: Int64

    init(_ connection: SQLiteConnection, filter: ReportFilter) throws(WarehouseError) {
        fromDay = filter.fromDay ?? Int64.min
        toDay = filter.toDay ?? Int64.max
        let limits = try connection.cached("""
            SELECT (SELECT coalesce(max(ref), 0) FROM uploads), (SELECT coalesce(max(ref), 0) FROM report_places),
                   (SELECT coalesce(max(ref), 0) FROM report_invoices), (SELECT coalesce(max(ref), 0) FROM report_customers),
                   (SELECT coalesce(max(ref), 0) FROM report_products)
            """)
        defer { limits.reset() }
        guard try limits.step() else { throw .corruptValue("no report table sizes") }
        let uploadLimit = Int(limits.int64(0)) + 1
        let placeLimit = Int(limits.int64(1)) + 1
        invoiceLimit = Int(limits.int64(2)) + 1
        customerLimit = Int(limits.int64(3)) + 1
        let productLimit = Int(limits.int64(4)) + 1

        visibleUploads = [Bool](repeating: false, count: uploadLimit)
        let visible = try connection.cached("SELECT ref FROM uploads WHERE \(SQLiteReportSchema.isVisible("status"))")
        defer { visible.reset() }
        while try visible.step() {
            let ref = Int(visible.int64(0))
            if ref < uploadLimit { visibleUploads[ref] = true }
        }

        placeRegions = [String](repeating: "", count: placeLimit)
        placeCountries = [String](repeating: "", count: placeLimit)
        placeMatches = [Bool](repeating: false, count: placeLimit)
        let places = try connection.cached("SELECT ref, region, country FROM report_places")
        defer { places.reset() }
        while try places.step() {
            let ref = Int(places.int64(0))
            guard ref < placeLimit else { continue }
            placeRegions[ref] = places.text(1) ?? ""
            placeCountries[ref] = places.text(2) ?? ""
        }
        // The filter's conditions in SQL, so they compare exactly as they did over the rows.
        let placeFilter = SQLitePlaceConditions(filter)
        let matching = try connection.cached("SELECT ref FROM report_places" + placeFilter.whereClause)
        defer { matching.reset() }
        placeFilter.bind(matching)
        while try matching.step() {
            let ref = Int(matching.int64(0))
            if ref < placeLimit { placeMatches[ref] = true }
        }

        if let product = filter.product {
            var matches = [Bool](repeating: false, count: productLimit)
            let products = try connection.cached("""
                SELECT ref FROM report_products
                WHERE stock_code = ?1 COLLATE NOCASE OR (described AND instr(lower(description), lower(?1)) > 0)
                """)
            defer { products.reset() }
            products.bind(product, at: 1)
            while try products.step() {
                let ref = Int(products.int64(0))
                if ref < productLimit { matches[ref] = true }
            }
            productMatches = matches
        } else {
            productMatches = nil
        }

        multiInvoices = [Bool](repeating: false, count: invoiceLimit)
        let multi = try connection.cached("SELECT ref FROM report_invoices WHERE multi = 1")
        defer { multi.reset() }
        while try multi.step() {
            let ref = Int(multi.int64(0))
            if ref < invoiceLimit { multiInvoices[ref] = true }
        }
    }
}

/// The region, country and allowed-region conditions of a filter over `report_places`.
struct SQLitePlaceConditions {
    private var conditions: [String] = []
    private var values: [String] = []

    init(_ filter: ReportFilter) {
        if let region = filter.region {
            conditions.append("region = ? COLLATE NOCASE")
            values.append(region)
        }
        if let allowed = filter.allowedRegions {
            conditions.append(SQLiteReportConditions.inList("region", count: allowed.count))
            values.append(contentsOf: allowed)
        }
        if let country = filter.country {
            conditions.append("country = ? COLLATE NOCASE")
            values.append(country)
        }
    }

    var whereClause: String { conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ") }

    func bind(_ statement: SQLiteStatement) {
        for (offset, value) in values.enumerated() { statement.bind(value, at: Int32(offset + 1)) }
    }
}

/// One cell as the scan hands it over; `lines` points into SQLite's row and is valid only during the call.
struct ReportCellView {
    var day: Int64
    var time: Int64
    var invoiceRef: Int
    var placeRef: Int
    var customerRef: Int
    var cancellation: Bool
    /// Lines, product revenue and product units of the cell's lines that match the product filter (all without one).
    var lineCount: Int64
    var revenueMicros: Int64
    var units: Int64
    var lines: UnsafePointer<UInt8>?
    var linesByteCount: Int

    /// The cell's packed lines (none when they were not read).
    var packedLines: PackedLines {
        guard let lines else { return PackedLines(UnsafePointer(bitPattern: 1)!, count: 0) }
        return PackedLines(lines, count: linesByteCount)
    }
}

/// A set of small non-negative integers.
struct BitSet {
    private var words: [UInt64]
    private(set) var count = 0

    init(limit: Int) { words = [UInt64](repeating: 0, count: max(limit, 0) / 64 + 1) }

    /// Adds `value`; true when it was not there.
    @inline(__always)
    @discardableResult
    mutating func insert(_ value: Int) -> Bool {
        let word = value >> 6
        if word >= words.count { words.append(contentsOf: [UInt64](repeating: 0, count: word - words.count + 1)) }
        let bit = UInt64(1) << UInt64(value & 63)
        if words[word] & bit != 0 { return false }
        words[word] |= bit
        count += 1
        return true
    }
}

/// Distinct invoices counted per group: an invoice with one cell is counted once per cell and
/// group (`stamp` keeps a cell's lines from counting it twice), one with several through a set.
struct GroupedInvoiceCounter {
    private(set) var counts: [Int] = []
    private var lastCell: [Int] = []
    private var seen = Set<Int>()

    mutating func reserve(groups: Int) {
        if groups > counts.count {
            counts.append(contentsOf: [Int](repeating: 0, count: groups - counts.count))
            lastCell.append(contentsOf: [Int](repeating: -1, count: groups - lastCell.count))
        }
    }

    @inline(__always)
    mutating func count(group: Int, invoice: Int, cell: Int, multi: Bool) {
        if group >= counts.count { reserve(groups: group + 1) }
        if lastCell[group] == cell { return }
        lastCell[group] = cell
        if multi, !seen.insert(invoice << 24 | group).inserted { return }
        counts[group] += 1
    }

    func count(of group: Int) -> Int { group < counts.count ? counts[group] : 0 }
}

extension SQLiteWarehouse {
    /// Reads the visible cells that match the filter. With a product filter, a cell's figures are
    /// those of its matching lines, and a cell without one is skipped; `decodeLines` hands over
    /// the packed lines as well. Cells come in chunk order, by day within a chunk.
    func scanCells(_ connection: SQLiteConnection, _ context: ReportScanContext, decodeLines: Bool,
                   _ body: (ReportCellView) -> Void) throws(WarehouseError) {
        let needLines = decodeLines || context.productMatches != nil
        // The lines are the chunk's last column: without them, SQLite does not read their pages.
        let statement = try connection.cached("""
            SELECT upload_ref, cell_count, cells\(needLines ? ", lines" : "")
            FROM report_chunks WHERE last_day >= ?1 AND first_day <= ?2
            """)
        defer { statement.reset() }
        statement.bind(context.fromDay, at: 1)
        statement.bind(context.toDay, at: 2)
        let handle = statement.handle
        let visible = context.visibleUploads
        let places = context.placeMatches
        let (fromDay, toDay) = (context.fromDay, context.toDay)
        while try statement.step() {
            // SQLite stops its own long statements; the decoding here is watched chunk by chunk.
            if connection.deadline.passed { throw .timedOut(connection.deadline.milliseconds) }
            let upload = Int(sqlite3_column_int64(handle, 0))
            guard upload < visible.count, visible[upload] else { continue }
            let count = Int(sqlite3_column_int64(handle, 1))
            guard let cells = sqlite3_column_blob(handle, 2),
                  Int(sqlite3_column_bytes(handle, 2)) >= count * ReportCellRecord.size else {
                throw .corruptValue("a report chunk is shorter than its cells")
            }
            var lines: UnsafePointer<UInt8>?
            var linesByteCount = 0
            if needLines {
                lines = sqlite3_column_blob(handle, 3)?.assumingMemoryBound(to: UInt8.self)
                linesByteCount = Int(sqlite3_column_bytes(handle, 3))
            }
            var linesStart = 0
            for index in 0..<count {
                let record = UnsafeRawPointer(cells) + index * ReportCellRecord.size
                let linesEnd = Int(UInt32(littleEndian: record.loadUnaligned(fromByteOffset: 36, as: UInt32.self)))
                defer { linesStart = linesEnd }
                let day = ReportCellRecord.int64(record, 0)
                let place = ReportCellRecord.int32(record, 20)
                guard day >= fromDay, day <= toDay, place < places.count, places[place] else { continue }
                var cell = ReportCellView(
                    day: day, time: ReportCellRecord.int64(record, 8), invoiceRef: ReportCellRecord.int32(record, 16),
                    placeRef: place, customerRef: ReportCellRecord.int32(record, 24),
                    cancellation: record.load(fromByteOffset: 28, as: UInt8.self) & 1 != 0,
                    lineCount: Int64(ReportCellRecord.int32(record, 32)), revenueMicros: ReportCellRecord.int64(record, 40),
                    units: ReportCellRecord.int64(record, 48), lines: nil, linesByteCount: 0)
                if let lines {
                    guard linesStart <= linesEnd, linesEnd <= linesByteCount else {
                        throw .corruptValue("a report cell's lines lie outside its chunk")
                    }
                    cell.lines = lines + linesStart
                    cell.linesByteCount = linesEnd - linesStart
                }
                if let matches = context.productMatches {
                    var lineCount: Int64 = 0
                    var revenue: Int64 = 0
                    var units: Int64 = 0
                    var packed = cell.packedLines
                    while let line = packed.next() {
                        guard line.product < matches.count, matches[line.product] else { continue }
                        lineCount += 1
                        if line.isProduct {
                            revenue &+= line.revenue
                            units &+= line.quantity
                        }
                    }
                    guard lineCount > 0 else { continue }
                    cell.lineCount = lineCount
                    cell.revenueMicros = revenue
                    cell.units = units
                }
                body(cell)
            }
        }
    }
}
