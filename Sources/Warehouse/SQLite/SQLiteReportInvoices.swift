// Invoices over the report tables: the page of invoices behind a number, and one
// invoice's stored lines (found through its cells, read from the rows by key range).

import CSQLite
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
            // Invoices with one cell are final as their cell is read: only the newest ones that can
            // reach the page are kept (`LatestInvoices`). Those with several cells are merged first.
            let offset = (number - 1) * size
            var latest = LatestInvoices(keep: offset + size)
            var multiEntries: [InvoiceEntry] = []
            var multiEntry: [Int: Int] = [:]
            var moreCustomers: [Int: [Int]] = [:]
            var total = 0
            try scanCells(connection, context, decodeLines: false) { cell in
                let entry = InvoiceEntry(
                    invoiceRef: Int32(truncatingIfNeeded: cell.invoiceRef), placeRef: Int32(truncatingIfNeeded: cell.placeRef),
                    customerRef: Int32(truncatingIfNeeded: cell.customerRef), isCancellation: cell.cancellation,
                    time: cell.time, lines: cell.lineCount, revenueMicros: cell.revenueMicros)
                guard context.isMulti(cell.invoiceRef) else {
                    total += 1
                    latest.offer(entry)
                    return
                }
                guard let index = multiEntry[cell.invoiceRef] else {
                    multiEntry[cell.invoiceRef] = multiEntries.count
                    multiEntries.append(entry)
                    return
                }
                var merged = multiEntries[index]
                merged.time = min(merged.time, entry.time)
                if binaryOrder(context.placeCountries[Int(entry.placeRef)], context.placeCountries[Int(merged.placeRef)]) {
                    merged.placeRef = entry.placeRef
                }
                if entry.customerRef != 0 { moreCustomers[cell.invoiceRef, default: []].append(Int(entry.customerRef)) }
                merged.lines += entry.lines
                merged.revenueMicros &+= entry.revenueMicros
                merged.isCancellation = merged.isCancellation || entry.isCancellation
                multiEntries[index] = merged
            }
            total += multiEntries.count
            for entry in multiEntries { latest.offer(entry) }
            // The newest invoices, all ties at the oldest time kept included: the head of the whole order.
            var entries = latest.entries
            entries.sort { $0.time != $1.time ? $0.time > $1.time : $0.invoiceRef < $1.invoiceRef }
            guard offset < entries.count else { return InvoicePage(invoices: [], total: total, page: number, pageSize: size) }
            // Ties in time are ordered by region then invoice number: widen the window to whole ties.
            var low = offset
            while low > 0, entries[low - 1].time == entries[offset].time { low -= 1 }
            var high = min(offset + size, entries.count)
            while high < entries.count, entries[high].time == entries[high - 1].time { high += 1 }
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

    /// The invoice's visible lines: its dictionary entry gives the span of its times, and its
    /// rows are read by that row-key range (keys lead with the invoice time).
    public func invoiceLines(region: String, invoiceNo: String) throws -> [InvoiceLine] {
        try withReader { connection throws(WarehouseError) in
            // The invoice's time span (one per region spelling): its rows lie in that range of row keys.
            let spans = try connection.cached(
                "SELECT first_time, last_time FROM report_invoices WHERE invoice_no = ?1 AND region = ?2 COLLATE NOCASE")
            spans.bind(invoiceNo, at: 1)
            spans.bind(region, at: 2)
            var ranges: [(first: Int64, last: Int64)] = []
            do {
                defer { spans.reset() }
                while try spans.step() { ranges.append((spans.int64(0), spans.int64(1))) }
            }
            guard !ranges.isEmpty else { return [] }
            if ranges.contains(where: { $0.first < 0 }) {
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
            // Spans of two spellings of the region may overlap: each row is read once.
            var merged: [(first: Int64, last: Int64)] = []
            for range in ranges.sorted(by: { $0.first < $1.first }) {
                if let previous = merged.last, range.first <= previous.last {
                    merged[merged.count - 1].last = max(previous.last, range.last)
                } else {
                    merged.append(range)
                }
            }
            for range in merged {
                rows.bind(invoiceNo, at: 1)
                rows.bind(region, at: 2)
                rows.bind(bytes: SQLiteReportConditions.keyBound(seconds: range.first), at: 3)
                rows.bind(bytes: SQLiteReportConditions.keyBound(seconds: range.last + 1), at: 4)
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

/// The `keep` newest of the invoices offered, and every other one as old as the oldest of them
/// (ties in time are ordered by name later): a min-heap on time, with the ties it pushed out.
private struct LatestInvoices {
    let keep: Int
    private var heap: [InvoiceEntry] = []
    private var ties: [InvoiceEntry] = []

    init(keep: Int) { self.keep = max(keep, 1) }

    var entries: [InvoiceEntry] { heap + ties }

    mutating func offer(_ entry: InvoiceEntry) {
        if heap.count < keep {
            push(entry)
            return
        }
        let oldest = heap[0].time
        if entry.time < oldest { return }
        if entry.time == oldest {
            ties.append(entry)
            return
        }
        push(entry)
        // One more than kept: the oldest leaves, to the ties while its time is still the oldest.
        let removed = pop()
        if heap[0].time == removed.time {
            ties.append(removed)
        } else {
            ties.removeAll(keepingCapacity: true)
        }
    }

    private mutating func push(_ entry: InvoiceEntry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].time < heap[parent].time else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func pop() -> InvoiceEntry {
        let top = heap[0]
        let last = heap.removeLast()
        guard !heap.isEmpty else { return top }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { break }
            var smallest = left
            if left + 1 < heap.count, heap[left + 1].time < heap[left].time { smallest = left + 1 }
            guard heap[smallest].time < heap[parent].time else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
