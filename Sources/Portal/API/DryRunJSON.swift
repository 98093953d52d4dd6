import ETL
import Support

/// The answer to a dry run (`POST /api/uploads?dry_run=1`): `{"dry_run": true, "files": [ … ]}`,
/// each file with what an upload would give and the first rows as they would be stored.
enum DryRunJSON {
    static func results(_ files: [CheckedFile]) -> [UInt8] {
        var json = JSONWriter(capacity: 1024 + files.count * 4096)
        json.beginObject()
        json.field("dry_run", true)
        json.key("files")
        json.beginArray()
        for file in files { write(file, into: &json) }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    /// `checked` when the file would load (some of its lines may be rejected), `rejected` when
    /// it would be refused as a whole, `failed` when the server could not read it.
    static func status(of file: CheckedFile) -> String {
        file.report != nil ? "checked" : file.serverFailure ? "failed" : "rejected"
    }

    private static func write(_ file: CheckedFile, into json: inout JSONWriter) {
        json.beginObject()
        json.field("file", file.fileName)
        json.field("region", file.region)
        json.field("status", status(of: file))
        json.field("size", file.sizeBytes)
        json.field("encoding", file.encoding)
        json.field("gzip", file.isGzip)
        json.key("rows")
        UploadJSON.writeRows(file.report?.rows ?? RowCounts(), into: &json)
        json.field("revenue", (file.report?.revenue ?? .zero).formatted(places: 2))
        json.field("currency", file.currency)
        json.key("rejects")
        UploadJSON.writeRejects(file.report?.firstRejects ?? [], into: &json)
        if let report = file.report {
            if !report.extraColumns.isEmpty { json.field("extra_columns", strings: report.extraColumns) }
            json.key("dialect")
            UploadJSON.writeDialect(report.dialect, into: &json)
        }
        if let code = file.errorCode { json.field("error", code) }
        if let message = file.errorMessage { json.field("message", message) }
        json.key("sample")
        json.beginArray()
        for row in file.sample { write(row, into: &json) }
        json.endArray()
        json.key("check_ms")
        json.rawNumber(UploadJSON.format(file.milliseconds))
        json.endObject()
    }

    /// An amount with two places (`51.00`), or all its places when it has more (`0.335`).
    static func money(_ amount: ExactDecimal) -> String {
        amount.micros % 10_000 == 0 ? amount.formatted(places: 2) : amount.description
    }

    /// A row as it would be stored.
    private static func write(_ row: OrderRow, into json: inout JSONWriter) {
        json.beginObject()
        json.field("line", row.sourceLine)
        json.field("invoice_no", row.invoiceNo)
        json.field("stock_code", row.stockCode)
        json.field("description", row.description)
        json.field("quantity", row.quantity)
        json.field("invoice_date", row.invoiceTime.isoDateTime)
        json.field("unit_price", money(row.unitPrice))
        json.field("revenue", money(row.revenue))
        json.field("customer_id", row.customerID)
        json.field("country", row.country)
        json.field("is_cancellation", row.isCancellation)
        json.field("is_product", row.isProduct)
        json.endObject()
    }
}
