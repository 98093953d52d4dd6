// The report tables of the embedded warehouse, maintained by every load in the
// transaction that stores its rows, and read by every report instead of the rows.
//
// A *cell* gathers the stored rows of one upload that share an invoice, an invoice
// time, a country, a customer and the cancellation flag: usually one cell per
// invoice, some twenty times fewer than rows. It keeps the totals of its lines and,
// packed, each line's product, quantity and revenue (`ReportLinePacking`), so a
// product filter or a breakdown by product reads the cells, never the rows.
// The cells of one stored batch make one row of `report_chunks`: a BLOB of fixed-size
// cell records (`ReportCellRecord`) and a BLOB of their packed lines, so a report reads
// about a thousand rows for five million stored ones, and decodes what it needs.
// Invoices, products (stock code with description), places (region with country)
// and customers are numbered in small dictionary tables, so reports count distinct
// invoices and customers in bit sets. An invoice with more than one cell (lines at
// two times, in two countries, in two uploads or two batches) is flagged `multi`:
// counting it per group needs a set, the rest are counted once per cell.
//
// A report sees the chunks of uploads whose load finished (`uploads.status` in
// `isVisible`): a load in progress, a failed one and one being taken back are not
// seen at all, and an upload becomes visible whole, in the one UPDATE that records
// its end.

import ETL

enum SQLiteReportSchema {
    /// The condition on an upload's `status` column under which every report and the `orders`
    /// view show its rows: a finished load, or an upload first found to repeat one whose rows
    /// were later brought back for it when that one was taken back.
    static func isVisible(_ status: String) -> String {
        "\(status) IN ('\(UploadStatus.loaded.rawValue)', '\(UploadStatus.alreadyLoaded.rawValue)')"
    }

    static let tables = """
        CREATE TABLE IF NOT EXISTS report_places (
            ref INTEGER PRIMARY KEY,
            region TEXT NOT NULL,
            country TEXT NOT NULL,
            UNIQUE (region, country)
        );
        CREATE TABLE IF NOT EXISTS report_products (
            ref INTEGER PRIMARY KEY,
            stock_code TEXT NOT NULL,
            description TEXT NOT NULL,
            described INTEGER NOT NULL,
            UNIQUE (stock_code, description, described)
        );
        CREATE TABLE IF NOT EXISTS report_customers (
            ref INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL UNIQUE
        );
        CREATE TABLE IF NOT EXISTS report_invoices (
            ref INTEGER PRIMARY KEY,
            invoice_no TEXT NOT NULL,
            region TEXT NOT NULL,
            known INTEGER NOT NULL DEFAULT 0,
            multi INTEGER NOT NULL DEFAULT 0,
            first_time INTEGER NOT NULL DEFAULT 0,
            last_time INTEGER NOT NULL DEFAULT 0,
            UNIQUE (invoice_no, region)
        );
        CREATE INDEX IF NOT EXISTS report_invoices_multi ON report_invoices(ref) WHERE multi = 1;
        CREATE TABLE IF NOT EXISTS report_chunks (
            id INTEGER PRIMARY KEY,
            upload_ref INTEGER NOT NULL,
            first_day INTEGER NOT NULL,
            last_day INTEGER NOT NULL,
            cell_count INTEGER NOT NULL,
            cells BLOB NOT NULL,
            lines BLOB NOT NULL
        );
        CREATE INDEX IF NOT EXISTS report_chunks_by_upload ON report_chunks(upload_ref);
        CREATE TABLE IF NOT EXISTS report_upload_places (
            upload_ref INTEGER NOT NULL,
            place_ref INTEGER NOT NULL,
            first_day INTEGER NOT NULL,
            last_day INTEGER NOT NULL,
            PRIMARY KEY (upload_ref, place_ref)
        ) WITHOUT ROWID;
        """

    /// The layout of the report tables; tables of another layout (or none: a database made
    /// before them) are built again from the rows.
    static let version = 1

    static let tableNames = ["report_chunks", "report_invoices", "report_places", "report_products",
                             "report_customers", "report_upload_places", "report_meta"]

    static let meta = "CREATE TABLE IF NOT EXISTS report_meta (version INTEGER NOT NULL)"

    /// 1 when the database has the table that records the layout version, else 0.
    static let metaTableExists = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'report_meta'"
}

/// A cell in a chunk's `cells` BLOB: 56 bytes, little-endian.
enum ReportCellRecord {
    static let size = 56
    // Offsets: day Int64 0, time Int64 8, invoice Int32 16, place Int32 20, customer Int32 24,
    // flags UInt32 28 (bit 0: cancellation), line count Int32 32, end of its packed lines in the
    // chunk's `lines` UInt32 36, product revenue in micros Int64 40, product units Int64 48.

    static func append(day: Int64, time: Int64, invoiceRef: Int64, placeRef: Int64, customerRef: Int64, cancellation: Bool,
                       lineCount: Int64, linesEnd: Int, revenueMicros: Int64, units: Int64, to bytes: inout [UInt8]) {
        func put<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        put(day)
        put(time)
        put(Int32(truncatingIfNeeded: invoiceRef))
        put(Int32(truncatingIfNeeded: placeRef))
        put(Int32(truncatingIfNeeded: customerRef))
        put(UInt32(cancellation ? 1 : 0))
        put(Int32(truncatingIfNeeded: lineCount))
        put(UInt32(truncatingIfNeeded: linesEnd))
        put(revenueMicros)
        put(units)
    }

    @inline(__always)
    static func int64(_ base: UnsafeRawPointer, _ offset: Int) -> Int64 {
        Int64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: Int64.self))
    }

    @inline(__always)
    static func int32(_ base: UnsafeRawPointer, _ offset: Int) -> Int {
        Int(Int32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: Int32.self)))
    }
}

/// A cell's lines packed in a BLOB: per line, LEB128 varints of `product_ref << 1 | is_product`,
/// then the quantity and the revenue in micros, both zigzag-encoded.
enum ReportLinePacking {
    @inline(__always)
    static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    @inline(__always)
    static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }

    @inline(__always)
    static func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }

    static func appendLine(productRef: Int64, isProduct: Bool, quantity: Int64, revenueMicros: Int64, to bytes: inout [UInt8]) {
        append(UInt64(productRef) << 1 | (isProduct ? 1 : 0), to: &bytes)
        append(zigzag(quantity), to: &bytes)
        append(zigzag(revenueMicros), to: &bytes)
    }
}

/// The packed lines of a cell, read one at a time.
struct PackedLines {
    private var cursor: UnsafePointer<UInt8>
    private let end: UnsafePointer<UInt8>

    init(_ start: UnsafePointer<UInt8>, count: Int) {
        cursor = start
        end = start + count
    }

    @inline(__always)
    private mutating func varint() -> UInt64 {
        let first = UInt64(cursor.pointee)
        cursor += 1
        if first < 0x80 { return first }
        var value = first & 0x7F
        var shift: UInt64 = 7
        while cursor < end {
            let byte = UInt64(cursor.pointee)
            cursor += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        return value
    }

    @inline(__always)
    mutating func next() -> (product: Int, isProduct: Bool, quantity: Int64, revenue: Int64)? {
        guard cursor < end else { return nil }
        let product = varint()
        guard cursor < end else { return nil }
        let quantity = ReportLinePacking.unzigzag(varint())
        guard cursor < end else { return nil }
        let revenue = ReportLinePacking.unzigzag(varint())
        return (Int(product >> 1), product & 1 == 1, quantity, revenue)
    }
}
