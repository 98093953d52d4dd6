import ETL
import Foundation
import GoogleCloud
import Support

/// Upload records in BigQuery: every `saveUpload` appends an event (streaming inserts
/// cannot update rows); readers take the latest event per upload.
extension BigQueryWarehouse {
    static let uploadEventFields: [TableField] = [
        TableField("upload_id", "STRING", mode: "REQUIRED"),
        TableField("event_id", "STRING", mode: "REQUIRED"),
        TableField("recorded_at_micros", "INT64", mode: "REQUIRED"),
        TableField("region", "STRING"),
        TableField("file_name", "STRING"),
        TableField("object_uri", "STRING"),
        TableField("sha256", "STRING"),
        TableField("size_bytes", "INT64"),
        TableField("encoding", "STRING"),
        TableField("status", "STRING", mode: "REQUIRED"),
        TableField("rows_read", "INT64"),
        TableField("rows_loaded", "INT64"),
        TableField("rows_rejected", "INT64"),
        TableField("rows_duplicates", "INT64"),
        TableField("revenue", "NUMERIC"),
        TableField("currency", "STRING"),
        TableField("first_rejects", "STRING", description: "JSON array of {line, reason, message}"),
        TableField("rejects_uri", "STRING"),
        TableField("extra_columns", "STRING", description: "JSON array of names"),
        TableField("error_code", "STRING"),
        TableField("error_message", "STRING"),
        TableField("bytes_processed", "INT64"),
        TableField("created_at_micros", "INT64"),
        TableField("updated_at_micros", "INT64"),
        TableField("user_name", "STRING", description: "who uploaded it"),
        TableField("client_address", "STRING"),
        TableField("retracted_by", "STRING"),
        TableField("retracted_at_micros", "INT64"),
        TableField("raw_removed_at_micros", "INT64", description: "when the raw file of a rejected file was deleted"),
        TableField("request_id", "STRING", description: "the id of the request that brought the file, as in the logs"),
    ]

    public func saveUpload(_ record: UploadRecord) throws {
        let recordedAt = clock()
        let eventID = "\(record.id)-\(recordedAt)-\(UInt32.random(in: 0...UInt32.max))"
        var json = JSONWriter(capacity: 1024)
        json.beginObject()
        json.field("upload_id", record.id)
        json.field("event_id", eventID)
        json.field("recorded_at_micros", recordedAt)
        json.field("region", record.region)
        json.field("file_name", record.fileName)
        json.field("object_uri", record.objectURI)
        json.field("sha256", record.sha256)
        json.field("size_bytes", record.sizeBytes)
        json.field("encoding", record.encoding)
        json.field("status", record.status.rawValue)
        json.field("rows_read", Int64(record.rows.read))
        json.field("rows_loaded", Int64(record.rows.loaded))
        json.field("rows_rejected", Int64(record.rows.rejected))
        json.field("rows_duplicates", Int64(record.rows.duplicates))
        json.field("revenue", BigQueryText.decimal(record.revenue))
        json.field("currency", record.currency)
        json.field("first_rejects", String(decoding: try JSONEncoder().encode(record.firstRejects), as: UTF8.self))
        json.field("rejects_uri", record.rejectsURI)
        json.field("extra_columns", String(decoding: try JSONEncoder().encode(record.extraColumns), as: UTF8.self))
        json.field("error_code", record.errorCode)
        json.field("error_message", record.errorMessage)
        json.field("bytes_processed", record.bytesProcessed)
        json.field("created_at_micros", record.createdAtMicros)
        json.field("updated_at_micros", record.updatedAtMicros)
        json.field("user_name", record.user)
        json.field("client_address", record.clientAddress)
        json.field("retracted_by", record.retractedBy)
        if let at = record.retractedAtMicros { json.field("retracted_at_micros", at) }
        if let at = record.rawFileRemovedAtMicros { json.field("raw_removed_at_micros", at) }
        var withoutRequestID = json
        withoutRequestID.endObject()
        if let id = record.requestID { json.field("request_id", id) }
        json.endObject()
        var errors = try client.insertAll(dataset: settings.dataset, table: settings.uploadEventsTable,
                                          rows: [InsertRow(insertID: eventID, json: json.bytes)], skipInvalidRows: false)
        // Streaming inserts may not see a column for a few minutes after it is added to the
        // table (prepare() adds request_id to tables made before it): the record goes in without it.
        if record.requestID != nil, let error = errors.first, error.message.contains("no such field") {
            errors = try client.insertAll(dataset: settings.dataset, table: settings.uploadEventsTable,
                                          rows: [InsertRow(insertID: eventID, json: withoutRequestID.bytes)], skipInvalidRows: false)
        }
        if let error = errors.first {
            throw GoogleCloudError.invalidResponse("upload record \(record.id) refused: \(error.reason) \(error.message)")
        }
    }

    public func upload(id: String) throws -> UploadRecord? {
        try latestUploads(where: "upload_id = @id", parameters: [.string("id", id)], limit: 1).first
    }

    public func recentUploads(limit: Int, regions: [String]?) throws -> [UploadRecord] {
        guard let regions else { return try latestUploads(where: nil, parameters: [], limit: limit) }
        let (condition, parameters) = BigQueryReportConditions.inList("region", regions, prefix: "region")
        return try latestUploads(where: condition, parameters: parameters, limit: limit)
    }

    public func loadedUpload(region: String, sha256: String) throws -> UploadRecord? {
        try latestUploads(where: "region = @region AND sha256 = @sha AND status IN ('loaded', 'already_loaded')",
                          parameters: [.string("region", region), .string("sha", sha256)], limit: 1).first
    }

    public func unfinishedUploads() throws -> [UploadRecord] {
        try latestUploads(where: "status IN ('stored', 'loading', 'failed', 'retracting')", parameters: [], limit: nil)
    }

    public func uploads(status: UploadStatus) throws -> [UploadRecord] {
        try latestUploads(where: "status = @status", parameters: [.string("status", status.rawValue)], limit: nil).reversed()
    }

    public func uploads(region: String) throws -> [UploadRecord] {
        try latestUploads(where: "region = @region", parameters: [.string("region", region)], limit: nil).reversed()
    }

    /// The latest event of each upload, filtered after picking the latest, newest upload first.
    private func latestUploads(where condition: String?, parameters: [QueryParameter], limit: Int?) throws -> [UploadRecord] {
        let columns = Self.uploadEventFields.map(\.name).joined(separator: ", ")
        var parameters = parameters
        var sql = """
            SELECT \(columns) FROM (
              SELECT \(columns), ROW_NUMBER() OVER (PARTITION BY upload_id ORDER BY recorded_at_micros DESC, event_id DESC) AS event_rank
              FROM \(events)
            ) WHERE event_rank = 1
            """
        if let condition { sql += " AND \(condition)" }
        sql += " ORDER BY created_at_micros DESC, upload_id DESC"
        if let limit {
            sql += " LIMIT @row_limit"
            parameters.append(.int64("row_limit", Int64(max(0, limit))))
        }
        let result = try client.query(sql, parameters: parameters)
        return try result.rows.indices.map { try record(result, $0) }
    }

    private func record(_ result: QueryResult, _ row: Int) throws -> UploadRecord {
        func text(_ name: String) -> String? { result.value(row, name).string }
        func number(_ name: String) -> Int64 { result.value(row, name).int64 ?? 0 }
        guard let statusText = text("status"), let status = UploadStatus(rawValue: statusText) else {
            throw GoogleCloudError.invalidResponse("upload event with unknown status \(text("status") ?? "null")")
        }
        let decoder = JSONDecoder()
        let rejects = (text("first_rejects")?.data(using: .utf8)).flatMap { try? decoder.decode([RejectedRow].self, from: $0) } ?? []
        let extra = (text("extra_columns")?.data(using: .utf8)).flatMap { try? decoder.decode([String].self, from: $0) } ?? []
        var record = UploadRecord(
            id: text("upload_id") ?? "", region: text("region") ?? "", fileName: text("file_name") ?? "",
            objectURI: text("object_uri") ?? "", sha256: text("sha256") ?? "", sizeBytes: number("size_bytes"),
            encoding: text("encoding") ?? "utf-8", status: status,
            rows: RowCounts(read: Int(number("rows_read")), loaded: Int(number("rows_loaded")),
                            rejected: Int(number("rows_rejected")), duplicates: Int(number("rows_duplicates"))),
            revenue: BigQueryText.parseDecimal(text("revenue")) ?? .zero, currency: text("currency") ?? "",
            firstRejects: rejects, rejectsURI: text("rejects_uri"), extraColumns: extra,
            errorCode: text("error_code"), errorMessage: text("error_message"), bytesProcessed: number("bytes_processed"),
            createdAtMicros: number("created_at_micros"), updatedAtMicros: number("updated_at_micros"),
            user: text("user_name") ?? "anonymous", clientAddress: text("client_address") ?? "",
            retractedBy: text("retracted_by"),
            retractedAtMicros: result.value(row, "retracted_at_micros").int64,
            rawFileRemovedAtMicros: result.value(row, "raw_removed_at_micros").int64)
        record.requestID = text("request_id")
        return record
    }
}
