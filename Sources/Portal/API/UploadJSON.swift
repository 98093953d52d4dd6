import ETL
import Support

/// The JSON shapes of uploads: the contract scripts and the page rely on.
enum UploadJSON {
    /// `{"uploads": [ … ]}` for the answer to POST /api/uploads.
    /// `showPaths`: whether local file URIs keep the server's absolute paths (admins and the
    /// command line); otherwise they are given relative to the object store (`uploads/IN/…`).
    static func results(_ outcomes: [UploadOutcome], showPaths: Bool = true) -> [UInt8] {
        uploads(outcomes) { write($0, into: &$1, showPaths: showPaths) }
    }

    /// `{"uploads": [ … ]}` for the history.
    static func list(_ records: [UploadRecord], showPaths: Bool = true) -> [UInt8] {
        uploads(records) { write($0, into: &$1, showPaths: showPaths) }
    }

    /// `{"uploads": [ … ]}`, one object written by `write` per item.
    private static func uploads<Item>(_ items: [Item], _ write: (Item, inout JSONWriter) -> Void) -> [UInt8] {
        var json = JSONWriter(capacity: 256 * max(items.count, 1))
        json.beginObject()
        json.key("uploads")
        json.beginArray()
        for item in items { write(item, &json) }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    /// One upload record as an object.
    static func single(_ record: UploadRecord, showPaths: Bool = true) -> [UInt8] {
        var json = JSONWriter()
        write(record, into: &json, showPaths: showPaths)
        return json.bytes
    }

    private static func write(_ outcome: UploadOutcome, into json: inout JSONWriter, showPaths: Bool) {
        guard let record = outcome.record else {
            json.beginObject()
            json.field("file", outcome.fileName)
            json.field("status", (outcome.serverFailure ? UploadStatus.failed : UploadStatus.rejected).rawValue)
            json.field("error", outcome.errorCode)
            json.field("message", outcome.errorMessage)
            json.key("rows")
            writeRows(RowCounts(), into: &json)
            json.field("revenue", ExactDecimal.zero.formatted(places: 2))
            json.key("rejects")
            json.beginArray()
            json.endArray()
            json.endObject()
            return
        }
        write(record, into: &json, showPaths: showPaths) { json in
            if outcome.inProgressElsewhere {
                // The first upload of these bytes, still loading: this request stored nothing.
                json.field("resent_while_loading", true)
                if record.errorMessage == nil { json.field("message", outcome.errorMessage) }
            }
            json.key("timings")
            json.beginObject()
            json.key("store_ms"); json.rawNumber(format(outcome.storeMillis))
            json.key("load_ms"); json.rawNumber(format(outcome.loadMillis))
            json.endObject()
        }
    }

    private static func write(_ record: UploadRecord, into json: inout JSONWriter, showPaths: Bool,
                              extra: (inout JSONWriter) -> Void = { _ in }) {
        json.beginObject()
        json.field("id", record.id)
        json.field("region", record.region)
        json.field("file", record.fileName)
        json.field("object_uri", showPaths ? record.objectURI : storeRelative(record.objectURI))
        json.field("sha256", record.sha256)
        json.field("size", record.sizeBytes)
        json.field("encoding", record.encoding)
        json.field("status", record.status.rawValue)
        json.key("rows")
        writeRows(record.rows, into: &json)
        json.field("revenue", record.revenue.formatted(places: 2))
        json.field("currency", record.currency)
        json.key("rejects")
        writeRejects(record.firstRejects, into: &json)
        if let rejectsURI = record.rejectsURI { json.field("rejects_uri", showPaths ? rejectsURI : storeRelative(rejectsURI)) }
        if !record.extraColumns.isEmpty { json.field("extra_columns", strings: record.extraColumns) }
        if let dialect = record.dialect {
            json.key("dialect")
            writeDialect(dialect, into: &json)
        }
        if let code = record.errorCode { json.field("error", code) }
        if let message = record.errorMessage { json.field("message", message) }
        json.key("progress")
        json.beginObject()
        json.field("bytes_processed", record.bytesProcessed)
        json.field("bytes_total", record.sizeBytes)
        json.endObject()
        json.field("created_at", Clock.isoTimestamp(micros: record.createdAtMicros))
        json.field("updated_at", Clock.isoTimestamp(micros: record.updatedAtMicros))
        json.field("user", record.user)
        if showPaths { json.field("client_address", record.clientAddress) }
        if let id = record.requestID { json.field("request_id", id) }
        if let by = record.retractedBy { json.field("retracted_by", by) }
        if let at = record.retractedAtMicros { json.field("retracted_at", Clock.isoTimestamp(micros: at)) }
        if let at = record.rawFileRemovedAtMicros { json.field("raw_file_removed_at", Clock.isoTimestamp(micros: at)) }
        extra(&json)
        json.endObject()
    }

    /// `[{"line", "reason", "message"}, …]`.
    static func writeRejects(_ rejects: [RejectedRow], into json: inout JSONWriter) {
        json.beginArray()
        for reject in rejects {
            json.beginObject()
            json.field("line", reject.line)
            json.field("reason", reject.reason)
            json.field("message", reject.message)
            json.endObject()
        }
        json.endArray()
    }

    /// `{"delimiter", "decimal_separator"}`.
    static func writeDialect(_ dialect: CSVDialect, into json: inout JSONWriter) {
        json.beginObject()
        json.field("delimiter", dialect.delimiterName)
        json.field("decimal_separator", dialect.decimalComma ? "," : ".")
        json.endObject()
    }

    /// `{"read", "loaded", "rejected", "duplicates"}`.
    static func writeRows(_ rows: RowCounts, into json: inout JSONWriter) {
        json.beginObject()
        json.field("read", rows.read)
        json.field("loaded", rows.loaded)
        json.field("rejected", rows.rejected)
        json.field("duplicates", rows.duplicates)
        json.endObject()
    }

    /// Milliseconds with up to three decimals.
    static func format(_ millis: Double) -> String {
        let thousandths = Int64((millis * 1000).rounded())
        let whole = thousandths / 1000
        let fraction = String(thousandths % 1000)
        return "\(whole).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    /// A `file://` URI as a name inside the object store (`uploads/IN/…`), so that the server's
    /// folders stay private; `gs://` URIs name no server path and stay as they are.
    static func storeRelative(_ uri: String) -> String {
        guard uri.hasPrefix("file://") else { return uri }
        guard let range = uri.range(of: "/uploads/") else { return (uri.split(separator: "/").last).map(String.init) ?? "" }
        return String(uri[uri.index(after: range.lowerBound)...])
    }
}
