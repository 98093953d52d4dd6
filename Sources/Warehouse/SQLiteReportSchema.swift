// The report tables of the embedded warehouse, maintained by every load in the
// transaction that stores its rows, and read by every report instead of the rows.
//
// A *cell* gathers the stored rows of one upload that share an invoice, an invoice
// time, a country, a customer and the cancellation flag: usually one cell per
// invoice, some twenty times fewer than rows. It keeps the totals of its lines and,
// packed in a BLOB, each line's product, quantity and revenue (`ReportLinePacking`),
// so a product filter or a breakdown by product reads the cells, never the rows.
// Invoices, products (stock code with description), places (region with country)
// and customers are numbered in small dictionary tables, so reports count distinct
// invoices and customers in bit sets. An invoice with more than one cell (lines at
// two times, in two countries, or in two uploads) is flagged `multi`: counting it
// per group needs a set, the rest are counted once per cell.
//
// A report sees the cells of uploads whose load finished (`uploads.status =
// 'loaded'`, see `isVisible`): a load in progress, a failed one and one being taken back are not
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
            UNIQUE (invoice_no, region)
        );
        CREATE INDEX IF NOT EXISTS report_invoices_multi ON report_invoices(ref) WHERE multi = 1;
        CREATE TABLE IF NOT EXISTS report_cells (
            day INTEGER NOT NULL,
            time INTEGER NOT NULL,
            invoice_ref INTEGER NOT NULL,
            upload_ref INTEGER NOT NULL,
            place_ref INTEGER NOT NULL,
            customer_ref INTEGER NOT NULL,
            cancellation INTEGER NOT NULL,
            line_count INTEGER NOT NULL,
            revenue_micros INTEGER NOT NULL,
            units INTEGER NOT NULL,
            lines BLOB NOT NULL,
            PRIMARY KEY (day, time, invoice_ref, upload_ref, place_ref, customer_ref, cancellation)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS report_cells_by_upload ON report_cells(upload_ref);
        CREATE INDEX IF NOT EXISTS report_cells_by_invoice ON report_cells(invoice_ref);
        CREATE TABLE IF NOT EXISTS report_upload_places (
            upload_ref INTEGER NOT NULL,
            place_ref INTEGER NOT NULL,
            first_day INTEGER NOT NULL,
            last_day INTEGER NOT NULL,
            PRIMARY KEY (upload_ref, place_ref)
        ) WITHOUT ROWID;
        """

    /// True when the report tables are there (a database made before them needs them built from its rows).
    static let existsQuery = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'report_cells'"
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

    /// Calls `body(productRef, isProduct, quantity, revenueMicros)` for each packed line.
    @inline(__always)
    static func forEachLine(_ start: UnsafePointer<UInt8>, count: Int,
                            _ body: (Int, Bool, Int64, Int64) -> Void) {
        var offset = 0
        @inline(__always) func next() -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while offset < count {
                let byte = start[offset]
                offset += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            return value
        }
        while offset < count {
            let product = next()
            let quantity = unzigzag(next())
            let revenue = unzigzag(next())
            body(Int(product >> 1), product & 1 == 1, quantity, revenue)
        }
    }
}
