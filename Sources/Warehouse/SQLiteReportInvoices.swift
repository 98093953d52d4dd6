// Invoices over the report tables: the page of invoices behind a number, and one
// invoice's stored lines (found through its cells, read from the rows by key range).

import CNative
import ETL

/// One invoice's matching cells, merged (no heap storage: there is one per matching invoice).
private struct InvoiceEntry {
    var invoiceRef: Int32
    var placeRef: Int32
    /// The customer of its first cell (0: none); other cells' customers are in `moreCustomers`.
    var customerRef: Int32
    var isCancellation: Bool
    var time: Int64
    var lines: Int64
    var revenueMicros: Int64
}

extension SQLiteWarehouse {
    public func invoices(_ filter: ReportFilter, page: Int, pageSize: Int) throws -> InvoicePage {
        let size = max(pageSize, 1)
        let number = max(page, 1)
        return try withReader { connection throws(WarehouseError) in
            let context = try ReportScanContext(connection, filter: filter)
            var entries: [InvoiceEntry] = []
            var multiEntry: [Int: Int] = [:]
            var moreCustomers: [Int: [Int]] = [:]
            try scanCells(connection, context, decodeLines: false) { cell in
                let entry = InvoiceEntry(
                    invoiceRef: Int32(truncatingIfNeeded: cell.invoiceRef), placeRef: Int32(truncatingIfNeeded: cell.placeRef),
                    customerRef: Int32(truncatingIfNeeded: cell.customerRef), isCancellation: cell.cancellation,
                    time: cell.time, lines: cell.lineCount, revenueMicros: cell.revenueMicros)
                guard context.isMulti(cell.invoiceRef) else {
                    entries.append(entry)
                    return
                }
                guard let index = multiEntry[cell.invoiceRef] else {
                    multiEntry[cell.invoiceRef] = entries.count
                    entries.append(entry)
                    return
                }
                var merged = entries[index]
                merged.time = min(merged.time, entry.time)
                if binaryOrder(context.placeCountries[Int(entry.placeRef)], context.placeCountries[Int(merged.placeRef)]) {
                    merged.placeRef = entry.placeRef
                }
                if entry.customerRef != 0 { moreCustomers[cell.invoiceRef, default: []].append(Int(entry.customerRef)) }
                merged.lines += entry.lines
                merged.revenueMicros &+= entry.revenueMicros
                merged.isCancellation = merged.isCancellation || entry.isCancellation
                entries[index] = merged
            }
            let total = entries.count
            entries.sort { $0.time != $1.time ? $0.time > $1.time : $0.invoiceRef < $1.invoiceRef }
            let offset = (number - 1) * size
            guard offset < total else { return InvoicePage(invoices: [], total: total, page: number, pageSize: size) }
            // Ties in time are ordered by region then invoice number: widen the window to whole ties.
            var low = offset
            while low > 0, entries[low - 1].time == entries[offset].time { low -= 1 }
            var high = min(offset + size, total)
            while high < total, entries[high].time == entries[high - 1].time { high += 1 }
            var window = Array(entries[low..<high])
            let names = try invoiceNames(connection, window.map { Int($0.invoiceRef) })
            window.sort { a, b in
                if a.time != b.time { return a.time > b.time }
                let (nameA, nameB) = (names[Int(a.invoiceRef)] ?? ("", ""), names[Int(b.invoiceRef)] ?? ("", ""))
                if nameA.region != nameB.region { return binaryOrder(nameA.region, nameB.region) }
                return binaryOrder(nameA.invoiceNo, nameB.invoiceNo)
            }
            let chosen = window[(offset - low)..<min(offset - low + size, window.count)]
            func customerRefs(_ entry: InvoiceEntry) -> [Int] {
                (entry.customerRef == 0 ? [] : [Int(entry.customerRef)]) + (moreCustomers[Int(entry.invoiceRef)] ?? [])
            }
            let customers = try customerIDs(connection, Set(chosen.flatMap(customerRefs)))
            let invoices = chosen.map { entry in
                let name = names[Int(entry.invoiceRef)] ?? ("", "")
                let customer = customerRefs(entry).compactMap { customers[$0] }.min(by: binaryOrder)
                return InvoiceOverview(
                    region: name.region, invoiceNo: name.invoiceNo, time: LocalDateTime(secondsSinceEpoch: entry.time),
                    country: context.placeCountries[Int(entry.placeRef)], customerID: customer, lines: Int(entry.lines),
                    revenue: ExactDecimal(micros: entry.revenueMicros), isCancellation: entry.isCancellation)
            }
            return InvoicePage(invoices: invoices, total: total, page: number, pageSize: size)
        }
    }

    private func invoiceNames(_ connection: SQLiteConnection, _ refs: [Int]) throws(WarehouseError)
        -> [Int: (region: String, invoiceNo: String)] {
        let statement = try connection.cached("SELECT region, invoice_no FROM report_invoices WHERE ref = ?1")
        var names: [Int: (region: String, invoiceNo: String)] = [:]
        for ref in refs {
            statement.bind(Int64(ref), at: 1)
            defer { statement.reset() }
            if try statement.step() { names[ref] = (statement.text(0) ?? "", statement.text(1) ?? "") }
        }
        return names
    }

    private func customerIDs(_ connection: SQLiteConnection, _ refs: Set<Int>) throws(WarehouseError) -> [Int: String] {
        let statement = try connection.cached("SELECT customer_id FROM report_customers WHERE ref = ?1")
        var found: [Int: String] = [:]
        for ref in refs {
            statement.bind(Int64(ref), at: 1)
            defer { statement.reset() }
            if try statement.step(), let id = statement.text(0) { found[ref] = id }
        }
        return found
    }

    /// The invoice's visible lines: its cells give the uploads and times, the rows of each time
    /// are read by row-key range (keys lead with the invoice time).
    public func invoiceLines(region: String, invoiceNo: String) throws -> [InvoiceLine] {
        try withReader { connection throws(WarehouseError) in
            // The invoice's numbers (one per region spelling), then its visible cells' times, in one read of the cells.
            let numbers = try connection.cached("SELECT ref FROM report_invoices WHERE invoice_no = ?1 AND region = ?2 COLLATE NOCASE")
            numbers.bind(invoiceNo, at: 1)
            numbers.bind(region, at: 2)
            var refs = Set<Int>()
            do {
                defer { numbers.reset() }
                while try numbers.step() { refs.insert(Int(numbers.int64(0))) }
            }
            guard !refs.isEmpty else { return [] }
            var times = Set<Int64>()
            try scanCells(connection, try ReportScanContext(connection, filter: ReportFilter()), decodeLines: false) { cell in
                if refs.contains(cell.invoiceRef) { times.insert(cell.time) }
            }
            guard !times.isEmpty else { return [] }
            if times.contains(where: { $0 < 0 }) {
                // Keys of times before 1970 do not sort by time: read the rows without the key range.
                return try rowScanInvoiceLines(connection, region: region, invoiceNo: invoiceNo)
            }
            let rows = try connection.cached("""
                SELECT r.stock_code, r.description, r.quantity, r.unit_price_micros, r.revenue_micros, r.invoice_time,
                       r.country, r.customer_id, r.is_product, r.is_cancellation, r.source_line, u.ref
                FROM order_rows r JOIN uploads u ON u.ref = r.upload_ref
                WHERE r.row_key >= ?3 AND r.row_key < ?4 AND r.invoice_no = ?1 AND u.region = ?2 COLLATE NOCASE
                  AND \(SQLiteReportSchema.isVisible("u.status"))
                """)
            var found: [(line: InvoiceLine, upload: Int64)] = []
            for time in times.sorted() {
                rows.bind(invoiceNo, at: 1)
                rows.bind(region, at: 2)
                rows.bind(bytes: SQLiteReportConditions.keyBound(seconds: time), at: 3)
                rows.bind(bytes: SQLiteReportConditions.keyBound(seconds: time + 1), at: 4)
                defer { rows.reset() }
                while try rows.step() { found.append((Self.invoiceLine(rows), rows.int64(11))) }
            }
            found.sort { a, b in
                (a.line.time.secondsSinceEpoch, a.upload, a.line.sourceLine) < (b.line.time.secondsSinceEpoch, b.upload, b.line.sourceLine)
            }
            return found.map(\.line)
        }
    }

    /// An `InvoiceLine` from the first eleven columns of a row query.
    static func invoiceLine(_ statement: SQLiteStatement) -> InvoiceLine {
        InvoiceLine(
            stockCode: statement.text(0) ?? "", description: statement.text(1), quantity: statement.int64(2),
            unitPrice: ExactDecimal(micros: statement.int64(3)), revenue: ExactDecimal(micros: statement.int64(4)),
            time: LocalDateTime(secondsSinceEpoch: statement.int64(5)), country: statement.text(6) ?? "",
            customerID: statement.text(7), isProduct: statement.int64(8) != 0,
            isCancellation: statement.int64(9) != 0, sourceLine: statement.int64(10))
    }
}
