import ETL

/// Writes `orders` rows as insertAll JSON straight into a byte buffer: names and the upload's
/// constants encoded once, numbers, money, dates and keys written as digits without building
/// strings. A load streams a million rows through here, so this is the gcp load's CPU.
struct BigQueryRowEncoder {
    private let uploadPart: [UInt8]
    private let currencyPart: [UInt8]
    private let tailPart: [UInt8]
    private let insertIdOpen: [UInt8]

    /// The constants of one upload.
    init(_ upload: UploadContext) {
        var part: [UInt8] = []
        part += Array(#","upload_id":"#.utf8); Self.appendString(upload.uploadID, to: &part)
        part += Array(#","region":"#.utf8); Self.appendString(upload.region, to: &part)
        uploadPart = part
        var currency = Array(#","currency":"#.utf8)
        Self.appendString(upload.currency, to: &currency)
        currencyPart = currency
        var tail = Array(#","source_uri":"#.utf8)
        Self.appendString(upload.sourceURI, to: &tail)
        tail += Array(#","loaded_at":""#.utf8)
        tail += Array(BigQueryText.timestamp(micros: upload.loadedAtMicros).utf8)
        tail += Array(#""}"#.utf8)
        tailPart = tail
        // The upload's id before the row key: BigQuery's best-effort dedupe (about a minute, per
        // table) then drops only a retry of this upload's own row, never the same row of another
        // upload sent beside it (the report view keeps one copy per row key anyway).
        var quotedID: [UInt8] = []
        Self.appendString(upload.uploadID, to: &quotedID)
        insertIdOpen = Array(#"{"insertId":""#.utf8) + quotedID.dropFirst().dropLast() + [UInt8(ascii: ":")]
    }

    /// `{"insertId":"UPLOAD:KEY","json":{…}}` of one row.
    func appendInsert(_ row: OrderRow, to out: inout [UInt8]) {
        out += insertIdOpen
        Self.appendHex(row.rowKey, to: &out)
        out += Self.jsonOpen
        appendRow(row, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// The row's JSON object, the columns of `BigQueryWarehouse.orderFields`.
    func appendRow(_ row: OrderRow, to out: inout [UInt8]) {
        out += Self.rowKeyOpen
        Self.appendHex(row.rowKey, to: &out)
        out.append(UInt8(ascii: "\""))
        out += uploadPart
        out += Self.invoiceNoName; Self.appendString(row.invoiceNo, to: &out)
        out += Self.stockCodeName; Self.appendString(row.stockCode, to: &out)
        out += Self.descriptionName; Self.appendOptional(row.description, to: &out)
        out += Self.quantityName; Self.appendInteger(row.quantity, to: &out)
        let time = row.invoiceTime.components
        out += Self.invoiceTsName
        Self.appendDate(time.year, time.month, time.day, to: &out)
        out.append(UInt8(ascii: "T"))
        Self.appendTwoDigits(time.hour, to: &out); out.append(UInt8(ascii: ":"))
        Self.appendTwoDigits(time.minute, to: &out); out.append(UInt8(ascii: ":"))
        Self.appendTwoDigits(time.second, to: &out)
        out += Self.invoiceDateName
        Self.appendDate(time.year, time.month, time.day, to: &out)
        out += Self.invoiceMonthName; Self.appendInteger((time.year - 1970) * 12 + time.month - 1, to: &out)
        out += Self.unitPriceName; Self.appendMicros(row.unitPrice.micros, to: &out); out.append(UInt8(ascii: "\""))
        out += currencyPart
        out += Self.revenueName; Self.appendMicros(row.revenue.micros, to: &out); out.append(UInt8(ascii: "\""))
        out += Self.customerIdName; Self.appendOptional(row.customerID, to: &out)
        out += Self.countryName; Self.appendString(row.country, to: &out)
        out += Self.isCancellationName; out += row.isCancellation ? Self.trueBytes : Self.falseBytes
        out += Self.isProductName; out += row.isProduct ? Self.trueBytes : Self.falseBytes
        out += Self.sourceLineName; Self.appendInteger(row.sourceLine, to: &out)
        out += tailPart
    }

    // MARK: - Pieces

    private static let jsonOpen = Array(#"","json":"#.utf8)
    private static let rowKeyOpen = Array(#"{"row_key":""#.utf8)
    private static let invoiceNoName = Array(#","invoice_no":"#.utf8)
    private static let stockCodeName = Array(#","stock_code":"#.utf8)
    private static let descriptionName = Array(#","description":"#.utf8)
    private static let quantityName = Array(#","quantity":"#.utf8)
    private static let invoiceTsName = Array(#","invoice_ts":""#.utf8)
    private static let invoiceDateName = Array(#"","invoice_date":""#.utf8)
    private static let invoiceMonthName = Array(#"","invoice_month":"#.utf8)
    private static let unitPriceName = Array(#","unit_price":""#.utf8)
    private static let revenueName = Array(#","revenue":""#.utf8)
    private static let customerIdName = Array(#","customer_id":"#.utf8)
    private static let countryName = Array(#","country":"#.utf8)
    private static let isCancellationName = Array(#","is_cancellation":"#.utf8)
    private static let isProductName = Array(#","is_product":"#.utf8)
    private static let sourceLineName = Array(#","source_line":"#.utf8)
    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)
    private static let nullBytes = Array("null".utf8)
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// 32 lower-case hex digits, `high` then `low`.
    static func appendHex(_ key: RowKey, to out: inout [UInt8]) {
        for shift in stride(from: 60, through: 0, by: -4) { out.append(hexDigits[Int((key.high >> UInt64(shift)) & 0xF)]) }
        for shift in stride(from: 60, through: 0, by: -4) { out.append(hexDigits[Int((key.low >> UInt64(shift)) & 0xF)]) }
    }

    static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        appendDigits(value.magnitude, to: &out)
    }

    private static func appendDigits(_ value: UInt64, to out: inout [UInt8]) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(truncatingIfNeeded: rest % 10) + 48
                rest /= 10
                count += 1
            } while rest > 0
            for index in stride(from: count - 1, through: 0, by: -1) { out.append(buffer[index]) }
        }
    }

    /// An exact decimal with six places: `-12.345600`.
    static func appendMicros(_ micros: Int64, to out: inout [UInt8]) {
        if micros < 0 { out.append(UInt8(ascii: "-")) }
        let magnitude = micros.magnitude
        appendDigits(magnitude / 1_000_000, to: &out)
        out.append(UInt8(ascii: "."))
        var fraction = magnitude % 1_000_000
        var divisor: UInt64 = 100_000
        for _ in 0..<6 {
            out.append(UInt8(truncatingIfNeeded: fraction / divisor) + 48)
            fraction %= divisor
            divisor /= 10
        }
    }

    /// `YYYY-MM-DD` (years 0…9999).
    static func appendDate(_ year: Int64, _ month: Int64, _ day: Int64, to out: inout [UInt8]) {
        let clamped = min(max(year, 0), 9999)
        out.append(UInt8(truncatingIfNeeded: clamped / 1000) + 48)
        out.append(UInt8(truncatingIfNeeded: clamped / 100 % 10) + 48)
        out.append(UInt8(truncatingIfNeeded: clamped / 10 % 10) + 48)
        out.append(UInt8(truncatingIfNeeded: clamped % 10) + 48)
        out.append(UInt8(ascii: "-"))
        appendTwoDigits(month, to: &out)
        out.append(UInt8(ascii: "-"))
        appendTwoDigits(day, to: &out)
    }

    static func appendTwoDigits(_ value: Int64, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value / 10 % 10) + 48)
        out.append(UInt8(truncatingIfNeeded: value % 10) + 48)
    }

    static func appendOptional(_ text: String?, to out: inout [UInt8]) {
        if let text { appendString(text, to: &out) } else { out += nullBytes }
    }

    /// A JSON string (RFC 8259 escapes).
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(92); out.append(34)
            case UInt8(ascii: "\\"): out.append(92); out.append(92)
            case 0x0A: out.append(92); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(92); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(92); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(92); out.append(UInt8(ascii: "u")); out.append(48); out.append(48)
                out.append(hexDigits[Int(byte >> 4)]); out.append(hexDigits[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
