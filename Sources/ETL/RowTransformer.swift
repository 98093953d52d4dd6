// One CSV record to one typed, normalized OrderRow, or the reason it cannot be one.

/// Why a record was not turned into a row.
struct RowRejection: Error {
    /// Stable reason code: `bad_field_count`, `missing_invoice_no`, `missing_stock_code`,
    /// `bad_quantity`, `bad_price`, `bad_date`, `out_of_range`, `record_too_long`.
    var reason: String
    var message: String
}

/// Cleans and types records of one file. Not copyable: it owns its scratch space.
///
/// Rules (docs/data-contract.md, "Cleaning each line"): invoice_no trimmed, required;
/// stock_code trimmed and upper-cased, required; description trimmed with inner runs of
/// spaces and tabs collapsed to one space, nil when blank; quantity an integer (`12`, `-3`;
/// `12.0` from spreadsheets is 12); unit price an exact decimal of at most six places;
/// customer_id trimmed, nil when blank, a spreadsheet float `17850.0` is `17850`; country
/// trimmed; the row key from the invoice time and a hash of the region and every normalized field.
struct RowTransformer: ~Copyable {
    private let header: HeaderMap
    private let invoiceField, stockField, descriptionField, quantityField: Int
    private let dateField, priceField, customerField, countryField: Int
    /// The hash state after the region code: every row's hash starts from it.
    private let regionHasher: RowHasher
    private let dateOrder: DateOrder
    private let decodesWindows1252: Bool
    private let nonProductCodes: [[UInt8]]
    private let nonProductLengths: UInt64
    private let nonProductPrefixes: [[UInt8]]

    /// Room for decoded and normalized text: up to 3 UTF-8 bytes per input byte.
    /// Room for decoded and normalized text of the current row. A row that needs more gets
    /// extra blocks, freed when the next row starts; the main block then grows to fit.
    private var scratch: UnsafeMutablePointer<UInt8>
    private var scratchCapacity: Int
    private var scratchUsed = 0
    private var overflow: [UnsafeMutablePointer<UInt8>] = []
    private var overflowBytes = 0
    private let scratchLimit: Int
    private let maxAbsQuantity: Int64
    private let maxAbsLineRevenueMicros: Int64

    /// The last strings made, reused when the next row has the same bytes (files repeat
    /// invoice numbers, countries and customers on consecutive lines).
    private var invoiceCache = StringCache()
    private var countryCache = StringCache()
    private var customerCache = StringCache()

    /// Unit prices written with a decimal comma (`CSVDialect.decimalComma`).
    private let decimalComma: Bool

    init(header: HeaderMap, region: RegionRules, encoding: TextEncoding, settings: ETLSettings,
         decimalComma: Bool = false) {
        self.header = header
        self.decimalComma = decimalComma
        let index = header.fieldIndex
        invoiceField = index[Column.invoiceNo.rawValue]
        stockField = index[Column.stockCode.rawValue]
        descriptionField = index[Column.description.rawValue]
        quantityField = index[Column.quantity.rawValue]
        dateField = index[Column.invoiceDate.rawValue]
        priceField = index[Column.unitPrice.rawValue]
        customerField = index[Column.customerID.rawValue]
        countryField = index[Column.country.rawValue]
        var hasher = RowHasher()
        Array(region.code.utf8).withUnsafeBufferPointer { hasher.combine($0) }
        regionHasher = hasher
        dateOrder = region.dateOrder
        decodesWindows1252 = encoding == .windows1252
        nonProductCodes = settings.nonProductStockCodes.sorted().map { Array($0.utf8) }
        nonProductLengths = nonProductCodes.reduce(0) { $0 | ($1.count < 64 ? 1 << UInt64($1.count) : 0) }
        nonProductPrefixes = settings.nonProductStockCodePrefixes.map { Array($0.utf8) }
        scratchLimit = 8 * settings.maxRecordBytes
        maxAbsQuantity = settings.maxAbsQuantity
        maxAbsLineRevenueMicros = settings.maxAbsLineRevenue * ExactDecimal.scale
        scratchCapacity = 64 * 1024
        scratch = .allocate(capacity: scratchCapacity)
    }

    deinit {
        scratch.deallocate()
        for block in overflow { block.deallocate() }
    }

    /// Forgets the previous row's scratch text.
    private mutating func resetScratch() {
        scratchUsed = 0
        guard !overflow.isEmpty else { return }
        for block in overflow { block.deallocate() }
        overflow.removeAll()
        let wanted = min(scratchCapacity + overflowBytes, scratchLimit)
        if wanted > scratchCapacity {
            scratch.deallocate()
            scratch = .allocate(capacity: wanted)
            scratchCapacity = wanted
        }
        overflowBytes = 0
    }

    /// The row of `record`, or why there is none.
    mutating func transform(_ record: CSVRecord) -> Result<OrderRow, RowRejection> {
        guard record.fieldCount == header.fieldCount else {
            return .failure(RowRejection(
                reason: "bad_field_count",
                message: "expected \(header.fieldCount) fields, found \(record.fieldCount)"))
        }
        resetScratch()
        var hasher = regionHasher

        let invoice = text(record[invoiceField])
        guard !invoice.isEmpty else {
            return .failure(RowRejection(reason: "missing_invoice_no", message: "InvoiceNo is blank"))
        }
        hasher.combine(invoice)

        var stock = text(record[stockField])
        guard !stock.isEmpty else {
            return .failure(RowRejection(reason: "missing_stock_code", message: "StockCode is blank"))
        }
        var stockCode: String
        if stock.contains(where: { $0 >= 0x80 }) {
            stockCode = String(decoding: stock, as: UTF8.self).uppercased()
            stock = stash(Array(stockCode.utf8))
        } else {
            stock = upperCased(stock)
            stockCode = String(decoding: stock, as: UTF8.self)
        }
        hasher.combine(stock)

        let descriptionBytes = collapsedSpaces(text(record[descriptionField]))
        if descriptionBytes.isEmpty { hasher.combineAbsent() } else { hasher.combine(descriptionBytes) }

        let quantityBytes = ASCII.trimmed(record[quantityField])
        guard let quantity = Self.integer(quantityBytes) else {
            return .failure(RowRejection(
                reason: "bad_quantity", message: "Quantity \(Self.quoted(quantityBytes)) is not a whole number"))
        }
        hasher.combine(UInt64(bitPattern: quantity))

        let dateBytes = record[dateField]
        guard let seconds = DateParser.parse(dateBytes, order: dateOrder) else {
            return .failure(RowRejection(
                reason: "bad_date",
                message: "InvoiceDate \(Self.quoted(ASCII.trimmed(dateBytes))) is not a valid "
                    + (dateOrder == .mdy ? "M/D/YYYY H:MM" : "D/M/YYYY H:MM") + " or ISO 8601 date and time"))
        }
        hasher.combine(UInt64(bitPattern: seconds))

        let priceBytes = record[priceField]
        guard let price = decimalComma ? ExactDecimal.parse(decimalComma: priceBytes) : ExactDecimal.parse(priceBytes) else {
            return .failure(RowRejection(
                reason: "bad_price",
                message: "UnitPrice \(Self.quoted(ASCII.trimmed(priceBytes))) is not a decimal number "
                    + "with at most 6 places" + (decimalComma ? " (written 2,55 or 1.234,50 in this file)" : "")))
        }
        hasher.combine(UInt64(bitPattern: price.micros))
        guard quantity.magnitude <= maxAbsQuantity.magnitude else {
            return .failure(RowRejection(
                reason: "out_of_range", message: "Quantity \(quantity) is beyond ±\(maxAbsQuantity)"))
        }
        let (revenue, overflow) = price.micros.multipliedReportingOverflow(by: quantity)
        guard !overflow, revenue.magnitude <= maxAbsLineRevenueMicros.magnitude else {
            return .failure(RowRejection(
                reason: "out_of_range",
                message: "Quantity × UnitPrice is beyond ±\(maxAbsLineRevenueMicros / ExactDecimal.scale)"))
        }

        let customer = customerNumber(text(record[customerField]))
        if customer.isEmpty { hasher.combineAbsent() } else { hasher.combine(customer) }

        let country = text(record[countryField])
        hasher.combine(country)

        let invoiceNo = invoiceCache.string(invoice)
        let first = invoice[0] | 0x20
        return .success(OrderRow(
            rowKey: RowKey(high: UInt64(bitPattern: seconds), low: hasher.finalize()),
            invoiceNo: invoiceNo,
            stockCode: stockCode,
            description: descriptionBytes.isEmpty ? nil : String(decoding: descriptionBytes, as: UTF8.self),
            quantity: quantity,
            invoiceTime: LocalDateTime(secondsSinceEpoch: seconds),
            unitPrice: price,
            revenue: ExactDecimal(micros: revenue),
            customerID: customer.isEmpty ? nil : customerCache.string(customer),
            country: countryCache.string(country),
            isCancellation: first == UInt8(ascii: "c"),
            isProduct: isProduct(stock),
            sourceLine: record.line))
    }

    /// The field as UTF-8 (decoded from Windows-1252 when the file is), trimmed.
    @inline(__always)
    private mutating func text(_ field: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        let trimmed = ASCII.trimmed(field)
        guard decodesWindows1252, trimmed.contains(where: { $0 >= 0x80 }) else { return trimmed }
        let output = reserve(trimmed.count * 3)
        let count = Windows1252.decode(trimmed, into: output)
        return UnsafeBufferPointer(start: output, count: count)
    }

    private mutating func reserve(_ count: Int) -> UnsafeMutablePointer<UInt8> {
        guard scratchUsed + count <= scratchCapacity else {
            let block = UnsafeMutablePointer<UInt8>.allocate(capacity: max(count, 1))
            overflow.append(block)
            overflowBytes += count
            return block
        }
        let start = scratch + scratchUsed
        scratchUsed += count
        return start
    }

    private mutating func stash(_ bytes: [UInt8]) -> UnsafeBufferPointer<UInt8> {
        let output = reserve(bytes.count)
        output.update(from: bytes, count: bytes.count)
        return UnsafeBufferPointer(start: output, count: bytes.count)
    }

    /// ASCII letters upper-cased (a copy only when some letter is lower case).
    private mutating func upperCased(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard bytes.contains(where: { $0 &- 0x61 < 26 }) else { return bytes }
        let output = reserve(bytes.count)
        for (k, byte) in bytes.enumerated() { output[k] = byte &- 0x61 < 26 ? byte - 0x20 : byte }
        return UnsafeBufferPointer(start: output, count: bytes.count)
    }

    /// Runs of spaces and tabs become one space (the bytes are already trimmed).
    private mutating func collapsedSpaces(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard Self.hasTabOrDoubleSpace(bytes) else { return bytes }
        var previousSpace = false
        let output = reserve(bytes.count)
        var written = 0
        for byte in bytes {
            let space = byte == 0x20 || byte == 0x09
            if space {
                if !previousSpace {
                    output[written] = 0x20
                    written += 1
                }
            } else {
                output[written] = byte
                written += 1
            }
            previousSpace = space
        }
        return UnsafeBufferPointer(start: output, count: written)
    }

    /// True when the bytes hold a tab or two spaces in a row. Eight bytes per step: in
    /// `x = word ^ pattern`, `~(((x & 0x7F…) + 0x7F…) | x | 0x7F…)` flags exactly the zero bytes.
    static func hasTabOrDoubleSpace(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        let n = bytes.count
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let spaces: UInt64 = 0x2020_2020_2020_2020
        let tabs: UInt64 = 0x0909_0909_0909_0909
        @inline(__always) func zeroBytes(_ x: UInt64) -> UInt64 { ~(((x & low7) &+ low7) | x | low7) }
        var k = 0
        var previousSpace = false
        let raw = UnsafeRawPointer(base)
        while k + 8 <= n {
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: k, as: UInt64.self))
            let space = zeroBytes(word ^ spaces)
            if zeroBytes(word ^ tabs) != 0 || space & (space >> 8) != 0 || (previousSpace && space & 0x80 != 0) {
                return true
            }
            previousSpace = space >> 63 != 0
            k += 8
        }
        while k < n {
            let byte = base[k]
            if byte == 0x09 || (byte == 0x20 && previousSpace) { return true }
            previousSpace = byte == 0x20
            k += 1
        }
        return false
    }

    /// `17850.0` and `17850.00` are `17850`: digits, a point and only zeros lose the point.
    private func customerNumber(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard let point = bytes.firstIndex(of: UInt8(ascii: ".")), point > 0 else { return bytes }
        for k in 0..<point where bytes[k] &- 0x30 >= 10 { return bytes }
        for k in (point + 1)..<bytes.count where bytes[k] != UInt8(ascii: "0") { return bytes }
        return UnsafeBufferPointer(rebasing: bytes[0..<point])
    }

    private func isProduct(_ stock: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = stock.count
        if count < 64 && nonProductLengths & (1 << UInt64(count)) != 0 {
            for code in nonProductCodes where code.withUnsafeBufferPointer({ ASCII.equal($0, stock) }) { return false }
        }
        for prefix in nonProductPrefixes
        where count >= prefix.count
            && prefix.withUnsafeBufferPointer({ ASCII.equal($0, UnsafeBufferPointer(rebasing: stock[0..<prefix.count])) }) {
            return false
        }
        return true
    }

    /// `[+-]digits`, or `digits.000` as spreadsheets write whole numbers. Nil otherwise.
    static func integer(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        let n = bytes.count
        var negative = false
        if n > 0 && (bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+")) {
            negative = bytes[0] == UInt8(ascii: "-")
            i = 1
        }
        var value: Int64 = 0
        let digitsStart = i
        while i < n, bytes[i] &- 0x30 < 10 {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(Int64(bytes[i] &- 0x30))
            if o1 || o2 { return nil }
            value = plus
            i += 1
        }
        guard i > digitsStart else { return nil }
        if i < n && bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < n && bytes[i] == UInt8(ascii: "0") { i += 1 }
        }
        guard i == n else { return nil }
        return negative ? -value : value
    }

    /// A field value for a message: quoted, at most 60 bytes.
    static func quoted(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let clipped = UnsafeBufferPointer(rebasing: bytes[0..<min(bytes.count, 60)])
        return "'" + String(decoding: clipped, as: UTF8.self) + (bytes.count > 60 ? "…'" : "'")
    }
}

/// The last string made from some bytes, reused while the bytes repeat.
struct StringCache {
    private var bytes: [UInt8] = []
    private var value = ""

    mutating func string(_ source: UnsafeBufferPointer<UInt8>) -> String {
        if bytes.withUnsafeBufferPointer({ ASCII.equal($0, source) }) { return value }
        bytes = Array(source)
        value = String(decoding: source, as: UTF8.self)
        return value
    }
}
