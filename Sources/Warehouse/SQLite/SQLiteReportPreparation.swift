// The part of the report tables' upkeep that needs no database, done on the loading thread
// while the batch before is being stored: rows grouped into cells by their text, each cell's
// lines packed with the batch's own product numbers, the batch's invoices listed as JSON.

import ETL

/// A batch grouped into cells by text (invoice, time, country, customer, cancellation), its
/// lines packed (`ReportLinePacking`) with products numbered within the batch. Kept in a few
/// flat arrays: it is released on the insert thread, where every freed object costs.
struct SQLitePreparedCells: Sendable {
    struct Cell: Sendable {
        var day: Int64
        var time: Int64
        /// The cell's invoice, a position in `invoices`.
        var invoice: Int32
        var country: String
        var customerID: String?
        var cancellation: Bool
    }

    private struct Key: Hashable {
        var time: Int64
        var invoice: Int32
        var country: String
        var customerID: String?
        var cancellation: Bool
    }

    var cells: [Cell] = []
    /// The batch's invoices, each with the span of its cells' times.
    var invoices = BatchInvoices()
    /// The batch's products (stock code, description), by the batch's numbers.
    var products: [(code: String, description: String?)] = []
    /// Each product's number within its load (`LoadProductNumbers`), by the batch's numbers.
    var productLoadNumbers: [Int32] = []
    /// The dictionary numbers of the load's products, when grouped for a load.
    var productRefs: SQLiteLoadProductRefs?
    var rowCount: Int
    /// Row positions grouped by cell (file order within a cell); cell `c` has
    /// `rowsByCell[rowStart[c]..<rowStart[c + 1]]`.
    var rowsByCell: [Int32] = []
    var rowStart: [Int32] = []
    /// The lines packed in `rowsByCell` order; cell `c`'s are `packed[packedStart[c]..<packedStart[c + 1]]`.
    var packed: [UInt8] = []
    var packedStart: [Int32] = []

    /// Groups a batch on its own (no load numbering kept).
    init(_ rows: [OrderRow]) {
        var products = LoadProductNumbers(batchOf: rows.count)
        self.init(rows, products: &products)
    }

    init(_ rows: [OrderRow], products numbers: inout LoadProductNumbers) {
        rowCount = rows.count
        productRefs = numbers.refs
        var cellOfKey: [Key: Int] = [:]
        var invoiceOfNumber: [String: Int32] = [:]
        var open = -1
        var cellOfRow = [Int32](repeating: 0, count: rows.count)
        var productOfRow = [Int32](repeating: 0, count: rows.count)
        rows.withUnsafeBufferPointer { rows in
            for position in rows.indices {
                let loadNumber = Int(numbers.number(code: rows[position].stockCode, description: rows[position].description))
                if numbers.batchNumbers[loadNumber] < 0 {
                    numbers.batchNumbers[loadNumber] = Int32(products.count)
                    products.append((rows[position].stockCode, rows[position].description))
                    productLoadNumbers.append(Int32(loadNumber))
                }
                productOfRow[position] = numbers.batchNumbers[loadNumber]
                let time = rows[position].invoiceTime.secondsSinceEpoch
                // Rows of a cell mostly come one after another.
                if open < 0 || cells[open].time != time || cells[open].cancellation != rows[position].isCancellation
                    || invoices.numbers[Int(cells[open].invoice)] != rows[position].invoiceNo
                    || cells[open].country != rows[position].country || cells[open].customerID != rows[position].customerID {
                    let row = rows[position]
                    let invoice: Int32
                    if open >= 0, invoices.numbers[Int(cells[open].invoice)] == row.invoiceNo {
                        invoice = cells[open].invoice
                    } else if let known = invoiceOfNumber[row.invoiceNo] {
                        invoice = known
                    } else {
                        invoice = Int32(invoices.numbers.count)
                        invoiceOfNumber[row.invoiceNo] = invoice
                        invoices.numbers.append(row.invoiceNo)
                        invoices.first.append(time)
                        invoices.last.append(time)
                    }
                    invoices.widen(Int(invoice), to: time)
                    let key = Key(time: time, invoice: invoice, country: row.country, customerID: row.customerID,
                                  cancellation: row.isCancellation)
                    if let known = cellOfKey[key] {
                        open = known
                    } else {
                        open = cells.count
                        cellOfKey[key] = open
                        cells.append(Cell(day: row.invoiceTime.dayNumber, time: time, invoice: invoice,
                                          country: row.country, customerID: row.customerID, cancellation: row.isCancellation))
                    }
                }
                cellOfRow[position] = Int32(open)
            }
            for loadNumber in productLoadNumbers { numbers.batchNumbers[Int(loadNumber)] = -1 }
            invoices.encode()
            // Rows grouped by cell (a counting sort, stable), then their lines packed in that order.
            rowStart = [Int32](repeating: 0, count: cells.count + 1)
            for cell in cellOfRow { rowStart[Int(cell) + 1] += 1 }
            for cell in cells.indices { rowStart[cell + 1] += rowStart[cell] }
            var next = rowStart
            rowsByCell = [Int32](repeating: 0, count: rows.count)
            for position in rows.indices {
                let cell = Int(cellOfRow[position])
                rowsByCell[Int(next[cell])] = Int32(position)
                next[cell] += 1
            }
            packed.reserveCapacity(rows.count * 8)
            packedStart = [Int32](repeating: 0, count: cells.count + 1)
            for cell in cells.indices {
                for slot in Int(rowStart[cell])..<Int(rowStart[cell + 1]) {
                    let position = Int(rowsByCell[slot])
                    ReportLinePacking.appendLine(productRef: Int64(productOfRow[position]), isProduct: rows[position].isProduct,
                                                 quantity: rows[position].quantity,
                                                 revenueMicros: rows[position].revenue.micros, to: &packed)
                }
                packedStart[cell + 1] = Int32(packed.count)
            }
        }
    }
}

/// The invoices of a batch (or of the cells of it that were stored), each with the first and
/// last time of its cells, and as JSON for the statements that look them up and add them.
struct BatchInvoices: Sendable {
    var numbers: [String] = []
    var first: [Int64] = []
    var last: [Int64] = []
    /// `numbers` as a JSON array of strings.
    var numbersJSON: [UInt8] = []
    /// `[number, first, last]` of each invoice, comma-separated without brackets; invoice `i`'s
    /// ends at `rowEnds[i]` (a comma follows all but the last).
    var rowsJSON: [UInt8] = []
    var rowEnds: [Int] = []

    mutating func widen(_ invoice: Int, to time: Int64) {
        if time < first[invoice] { first[invoice] = time }
        if time > last[invoice] { last[invoice] = time }
    }

    /// Writes the JSON forms of the invoices.
    mutating func encode() {
        numbersJSON = [UInt8(ascii: "[")]
        rowsJSON = []
        rowEnds = []
        for index in numbers.indices {
            if index > 0 {
                numbersJSON.append(UInt8(ascii: ","))
                rowsJSON.append(UInt8(ascii: ","))
            }
            SQLiteJSON.appendQuoted(numbers[index], to: &numbersJSON)
            rowsJSON.append(UInt8(ascii: "["))
            SQLiteJSON.appendQuoted(numbers[index], to: &rowsJSON)
            rowsJSON.append(contentsOf: ",\(first[index]),\(last[index])]".utf8)
            rowEnds.append(rowsJSON.count)
        }
        numbersJSON.append(UInt8(ascii: "]"))
    }

    /// A JSON array of the `[number, first, last]` of the invoices at `positions` (ascending).
    func rowsJSON(at positions: [Int]) -> [UInt8] {
        var json: [UInt8] = [UInt8(ascii: "[")]
        for position in positions {
            if json.count > 1 { json.append(UInt8(ascii: ",")) }
            let start = position == 0 ? 0 : rowEnds[position - 1] + 1
            json.append(contentsOf: rowsJSON[start..<rowEnds[position]])
        }
        json.append(UInt8(ascii: "]"))
        return json
    }
}

/// Product numbers by stock code and description: an open-addressing table with a cheap
/// hash of the two texts' bytes, looked up once per stored row.
struct ProductInterner {
    private var slots: [Int32]
    private var hashes: [UInt64] = []
    private var codes: [String] = []
    private var descriptions: [String?] = []
    private var refs: [Int64] = []

    /// Entries at which the table starts afresh (a bound on its memory).
    private let clearsAt: Int

    /// A table sized for `expected` entries without growing, emptied when it holds `clearsAt`.
    init(expected: Int = 512, clearsAt: Int = 500_000) {
        self.clearsAt = clearsAt
        var size = 1024
        while size < expected * 2 { size *= 2 }
        slots = [Int32](repeating: -1, count: size)
        hashes.reserveCapacity(expected)
        codes.reserveCapacity(expected)
        descriptions.reserveCapacity(expected)
        refs.reserveCapacity(expected)
    }

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
        if refs.count >= clearsAt { self = ProductInterner(expected: 512, clearsAt: clearsAt) }
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
