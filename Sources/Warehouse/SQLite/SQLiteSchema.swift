// The tables, indexes and view of the embedded warehouse.
//
// `uploads` holds one row per upload: its record and the constants every row
// of it shares (upload id, region, currency, source URI, load time).
// `order_rows` keeps a small integer reference to its upload, the row key as a
// 16-byte BLOB (invoice time first, so keys of a chronological file append to
// the index), money as integer micros, times as integer seconds and days.
// The `orders` view shows the flat shape of the design's output table, with the
// rows of finished loads only (as every report).

/// How the rows table keys its rows.
@_spi(Benchmark)
public enum SQLiteRowLayout: Sendable {
    /// A rowid table with a UNIQUE index on `row_key`.
    case uniqueIndex
    /// A WITHOUT ROWID table whose primary key is `row_key`.
    case withoutRowID
    /// No key at all: duplicates are not detected. Only to measure the ceiling.
    case unkeyed
}

enum SQLiteSchema {
    static let uploads = """
        CREATE TABLE IF NOT EXISTS uploads (
            ref INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            region TEXT NOT NULL DEFAULT '',
            file_name TEXT NOT NULL DEFAULT '',
            object_uri TEXT NOT NULL DEFAULT '',
            sha256 TEXT NOT NULL DEFAULT '',
            size_bytes INTEGER NOT NULL DEFAULT 0,
            encoding TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'loading',
            rows_read INTEGER NOT NULL DEFAULT 0,
            rows_loaded INTEGER NOT NULL DEFAULT 0,
            rows_rejected INTEGER NOT NULL DEFAULT 0,
            rows_duplicate INTEGER NOT NULL DEFAULT 0,
            revenue_micros INTEGER NOT NULL DEFAULT 0,
            currency TEXT NOT NULL DEFAULT '',
            first_rejects TEXT NOT NULL DEFAULT '[]',
            rejects_uri TEXT,
            extra_columns TEXT NOT NULL DEFAULT '[]',
            error_code TEXT,
            error_message TEXT,
            bytes_processed INTEGER NOT NULL DEFAULT 0,
            created_at_micros INTEGER NOT NULL DEFAULT 0,
            updated_at_micros INTEGER NOT NULL DEFAULT 0,
            source_uri TEXT,
            loaded_at_micros INTEGER,
            user_name TEXT NOT NULL DEFAULT 'anonymous',
            client_address TEXT NOT NULL DEFAULT '',
            retracted_by TEXT,
            retracted_at_micros INTEGER,
            raw_removed_at_micros INTEGER,
            request_id TEXT
        );
        CREATE INDEX IF NOT EXISTS uploads_by_created ON uploads(created_at_micros);
        CREATE INDEX IF NOT EXISTS uploads_by_content ON uploads(region, sha256);
        CREATE INDEX IF NOT EXISTS uploads_by_status ON uploads(status);
        """

    /// Columns added to `uploads` after its first version, for databases made before them.
    static let addedUploadColumns: [(name: String, definition: String)] = [
        ("user_name", "TEXT NOT NULL DEFAULT 'anonymous'"),
        ("client_address", "TEXT NOT NULL DEFAULT ''"),
        ("retracted_by", "TEXT"),
        ("retracted_at_micros", "INTEGER"),
        ("raw_removed_at_micros", "INTEGER"),
        ("request_id", "TEXT"),
    ]

    /// The audit trail: who did what, when, from where.
    static let audit = """
        CREATE TABLE IF NOT EXISTS audit_events (
            id INTEGER PRIMARY KEY,
            at_micros INTEGER NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL DEFAULT '',
            address TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX IF NOT EXISTS audit_events_by_time ON audit_events(at_micros);
        """

    /// Row columns in insert order.
    static let rowColumns = [
        "row_key", "upload_ref", "invoice_no", "stock_code", "description", "quantity", "invoice_time",
        "invoice_day", "unit_price_micros", "revenue_micros", "customer_id", "country", "is_cancellation",
        "is_product", "source_line",
    ]

    static func rows(_ layout: SQLiteRowLayout) -> String {
        let key: String
        let suffix: String
        let index: String
        switch layout {
        case .uniqueIndex:
            key = "row_key BLOB NOT NULL"
            suffix = ""
            index = "CREATE UNIQUE INDEX IF NOT EXISTS order_rows_by_key ON order_rows(row_key);"
        case .withoutRowID:
            key = "row_key BLOB NOT NULL PRIMARY KEY"
            suffix = " WITHOUT ROWID"
            index = ""
        case .unkeyed:
            key = "row_key BLOB NOT NULL"
            suffix = ""
            index = ""
        }
        return """
            CREATE TABLE IF NOT EXISTS order_rows (
                \(key),
                upload_ref INTEGER NOT NULL,
                invoice_no TEXT NOT NULL,
                stock_code TEXT NOT NULL,
                description TEXT,
                quantity INTEGER NOT NULL,
                invoice_time INTEGER NOT NULL,
                invoice_day INTEGER NOT NULL,
                unit_price_micros INTEGER NOT NULL,
                revenue_micros INTEGER NOT NULL,
                customer_id TEXT,
                country TEXT NOT NULL,
                is_cancellation INTEGER NOT NULL,
                is_product INTEGER NOT NULL,
                source_line INTEGER NOT NULL
            )\(suffix);
            \(index)
            """
    }

    /// The index the report filters need most: the date range. Chronological
    /// files append to it, so it costs inserts little.
    static let rowIndexes = """
        CREATE INDEX IF NOT EXISTS order_rows_by_day ON order_rows(invoice_day);
        """

    /// `micros` as exact decimal text with at least two places: 2550000 → 2.55, 1234 → 0.001234.
    private static func decimalText(_ micros: String) -> String {
        let fraction = "printf('%06d', abs(\(micros)) % 1000000)"
        return "(CASE WHEN \(micros) < 0 THEN '-' ELSE '' END || (abs(\(micros)) / 1000000) || '.' || "
            + "substr(\(fraction), 1, max(2, length(rtrim(\(fraction), '0')))))"
    }

    static let ordersView = """
        CREATE VIEW IF NOT EXISTS orders AS
        SELECT
            lower(hex(r.row_key)) AS row_key,
            u.id AS upload_id,
            u.region AS region,
            r.invoice_no AS invoice_no,
            r.stock_code AS stock_code,
            r.description AS description,
            r.quantity AS quantity,
            strftime('%Y-%m-%dT%H:%M:%S', r.invoice_time, 'unixepoch') AS invoice_ts,
            date(r.invoice_day * 86400, 'unixepoch') AS invoice_date,
            \(decimalText("r.unit_price_micros")) AS unit_price,
            u.currency AS currency,
            \(decimalText("r.revenue_micros")) AS revenue,
            r.customer_id AS customer_id,
            r.country AS country,
            r.is_cancellation AS is_cancellation,
            r.is_product AS is_product,
            coalesce(u.source_uri, u.object_uri) AS source_uri,
            r.source_line AS source_line,
            strftime('%Y-%m-%dT%H:%M:%fZ', u.loaded_at_micros / 1000000.0, 'unixepoch') AS loaded_at
        FROM order_rows r JOIN uploads u ON u.ref = r.upload_ref
        WHERE \(SQLiteReportSchema.isVisible("u.status"));
        """
}
