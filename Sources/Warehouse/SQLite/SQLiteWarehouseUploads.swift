// Upload records: saved on the write connection, read on read connections.

import ETL

extension SQLiteWarehouse {
    /// Creates or replaces the record (the upload keeps its internal reference and its rows).
    public func saveUpload(_ record: UploadRecord) throws {
        try writer.withLock { writer throws(WarehouseError) in
            let statement = try writer.connection.cached("""
                INSERT INTO uploads (id, region, file_name, object_uri, sha256, size_bytes, encoding, status,
                    rows_read, rows_loaded, rows_rejected, rows_duplicate, revenue_micros, currency,
                    first_rejects, rejects_uri, extra_columns, error_code, error_message, bytes_processed,
                    created_at_micros, updated_at_micros, user_name, client_address, retracted_by, retracted_at_micros,
                    raw_removed_at_micros, request_id)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22,
                    ?23, ?24, ?25, ?26, ?27, ?28)
                ON CONFLICT (id) DO UPDATE SET
                    region = excluded.region, file_name = excluded.file_name, object_uri = excluded.object_uri,
                    sha256 = excluded.sha256, size_bytes = excluded.size_bytes, encoding = excluded.encoding,
                    status = excluded.status, rows_read = excluded.rows_read, rows_loaded = excluded.rows_loaded,
                    rows_rejected = excluded.rows_rejected, rows_duplicate = excluded.rows_duplicate,
                    revenue_micros = excluded.revenue_micros, currency = excluded.currency,
                    first_rejects = excluded.first_rejects, rejects_uri = excluded.rejects_uri,
                    extra_columns = excluded.extra_columns, error_code = excluded.error_code,
                    error_message = excluded.error_message, bytes_processed = excluded.bytes_processed,
                    created_at_micros = excluded.created_at_micros, updated_at_micros = excluded.updated_at_micros,
                    user_name = excluded.user_name, client_address = excluded.client_address,
                    retracted_by = excluded.retracted_by, retracted_at_micros = excluded.retracted_at_micros,
                    raw_removed_at_micros = excluded.raw_removed_at_micros, request_id = excluded.request_id
                """)
            statement.bind(record.id, at: 1)
            statement.bind(record.region, at: 2)
            statement.bind(record.fileName, at: 3)
            statement.bind(record.objectURI, at: 4)
            statement.bind(record.sha256, at: 5)
            statement.bind(record.sizeBytes, at: 6)
            statement.bind(record.encoding, at: 7)
            statement.bind(record.status.rawValue, at: 8)
            statement.bind(record.rows.read, at: 9)
            statement.bind(record.rows.loaded, at: 10)
            statement.bind(record.rows.rejected, at: 11)
            statement.bind(record.rows.duplicates, at: 12)
            statement.bind(record.revenue.micros, at: 13)
            statement.bind(record.currency, at: 14)
            statement.bind(SQLiteJSON.encode(record.firstRejects), at: 15)
            statement.bind(record.rejectsURI, at: 16)
            statement.bind(SQLiteJSON.encode(record.extraColumns), at: 17)
            statement.bind(record.errorCode, at: 18)
            statement.bind(record.errorMessage, at: 19)
            statement.bind(record.bytesProcessed, at: 20)
            statement.bind(record.createdAtMicros, at: 21)
            statement.bind(record.updatedAtMicros, at: 22)
            statement.bind(record.user, at: 23)
            statement.bind(record.clientAddress, at: 24)
            statement.bind(record.retractedBy, at: 25)
            if let at = record.retractedAtMicros { statement.bind(at, at: 26) } else { statement.bind(nil as String?, at: 26) }
            if let at = record.rawFileRemovedAtMicros { statement.bind(at, at: 27) } else { statement.bind(nil as String?, at: 27) }
            statement.bind(record.requestID, at: 28)
            try statement.run()
        }
    }

    /// The record of one upload, nil when unknown.
    public func upload(id: String) throws -> UploadRecord? {
        try readUploads("WHERE id = ?1") { $0.bind(id, at: 1) }.first
    }

    /// The latest records by creation time, newest first, at most `limit`.
    public func recentUploads(limit: Int, regions: [String]?) throws -> [UploadRecord] {
        guard let regions else {
            return try readUploads("ORDER BY created_at_micros DESC, ref DESC LIMIT ?1") { $0.bind(max(0, limit), at: 1) }
        }
        let condition = SQLiteReportConditions.inList("region", count: regions.count)
        return try readUploads("WHERE \(condition) ORDER BY created_at_micros DESC, ref DESC LIMIT ?\(regions.count + 1)") { statement in
            for (index, region) in regions.enumerated() { statement.bind(region, at: Int32(index + 1)) }
            statement.bind(max(0, limit), at: Int32(regions.count + 1))
        }
    }

    /// The newest upload of the same content (SHA-256) for the region whose status is `loaded`.
    public func loadedUpload(region: String, sha256: String) throws -> UploadRecord? {
        try readUploads("""
            WHERE region = ?1 AND sha256 = ?2 AND status IN ('loaded', 'already_loaded') ORDER BY created_at_micros DESC, ref DESC LIMIT 1
            """) {
            $0.bind(region, at: 1)
            $0.bind(sha256, at: 2)
        }.first
    }

    /// Uploads with status `stored` or `loading`, oldest first.
    public func unfinishedUploads() throws -> [UploadRecord] {
        try readUploads("WHERE status IN ('stored', 'loading', 'failed', 'retracting') ORDER BY created_at_micros, ref") { _ in }
    }

    public func uploads(region: String) throws -> [UploadRecord] {
        try readUploads("WHERE region = ?1 ORDER BY created_at_micros, ref") { $0.bind(region, at: 1) }
    }

    public func uploads(status: UploadStatus) throws -> [UploadRecord] {
        try readUploads("WHERE status = ?1 ORDER BY created_at_micros, ref") { $0.bind(status.rawValue, at: 1) }
    }

    private static let uploadColumns = """
        SELECT id, region, file_name, object_uri, sha256, size_bytes, encoding, status, rows_read, rows_loaded,
            rows_rejected, rows_duplicate, revenue_micros, currency, first_rejects, rejects_uri, extra_columns,
            error_code, error_message, bytes_processed, created_at_micros, updated_at_micros,
            user_name, client_address, retracted_by, retracted_at_micros, raw_removed_at_micros, request_id
        FROM uploads
        """

    /// Upload records selected by `clause` (a constant SQL fragment; values are bound by `bind`).
    private func readUploads(
        _ clause: String, bind: (SQLiteStatement) -> Void
    ) throws(WarehouseError) -> [UploadRecord] {
        try withReader { connection throws(WarehouseError) in
            let statement = try connection.cached(Self.uploadColumns + " " + clause)
            bind(statement)
            var records: [UploadRecord] = []
            var encoded: [(rejects: String, extraColumns: String)] = []
            while try statement.step() {
                let statusText = statement.text(7) ?? ""
                guard let status = UploadStatus(rawValue: statusText) else {
                    throw .corruptValue("unknown upload status '\(statusText)'")
                }
                records.append(UploadRecord(
                    id: statement.text(0) ?? "", region: statement.text(1) ?? "", fileName: statement.text(2) ?? "",
                    objectURI: statement.text(3) ?? "", sha256: statement.text(4) ?? "",
                    sizeBytes: statement.int64(5), encoding: statement.text(6) ?? "", status: status,
                    rows: RowCounts(
                        read: Int(statement.int64(8)), loaded: Int(statement.int64(9)),
                        rejected: Int(statement.int64(10)), duplicates: Int(statement.int64(11))),
                    revenue: ExactDecimal(micros: statement.int64(12)), currency: statement.text(13) ?? "",
                    rejectsURI: statement.text(15), errorCode: statement.text(17), errorMessage: statement.text(18),
                    bytesProcessed: statement.int64(19), createdAtMicros: statement.int64(20),
                    updatedAtMicros: statement.int64(21)))
                records[records.count - 1].user = statement.text(22) ?? "anonymous"
                records[records.count - 1].clientAddress = statement.text(23) ?? ""
                records[records.count - 1].retractedBy = statement.text(24)
                records[records.count - 1].retractedAtMicros = statement.isNull(25) ? nil : statement.int64(25)
                records[records.count - 1].rawFileRemovedAtMicros = statement.isNull(26) ? nil : statement.int64(26)
                records[records.count - 1].requestID = statement.text(27)
                encoded.append((statement.text(14) ?? "[]", statement.text(16) ?? "[]"))
            }
            statement.reset()
            for index in records.indices {
                records[index].firstRejects = try SQLiteJSON.decodeRejects(encoded[index].rejects, on: connection)
                records[index].extraColumns = try SQLiteJSON.decodeStrings(encoded[index].extraColumns, on: connection)
            }
            return records
        }
    }
}

/// JSON text for the list columns of `uploads`: written here, read back with SQLite's `json_each`.
enum SQLiteJSON {
    static func encode(_ rejects: [RejectedRow]) -> String {
        var json = "["
        for (position, reject) in rejects.enumerated() {
            if position > 0 { json += "," }
            json += "{\"line\":\(reject.line),\"reason\":"
            appendQuoted(reject.reason, to: &json)
            json += ",\"message\":"
            appendQuoted(reject.message, to: &json)
            json += "}"
        }
        return json + "]"
    }

    static func encode(_ strings: [String]) -> String {
        var json = "["
        for (position, string) in strings.enumerated() {
            if position > 0 { json += "," }
            appendQuoted(string, to: &json)
        }
        return json + "]"
    }

    static func decodeRejects(_ json: String, on connection: SQLiteConnection) throws(WarehouseError) -> [RejectedRow] {
        if json == "[]" { return [] }
        let statement = try connection.cached("""
            SELECT json_extract(value, '$.line'), json_extract(value, '$.reason'), json_extract(value, '$.message')
            FROM json_each(?1) ORDER BY key
            """)
        statement.bind(json, at: 1)
        var rejects: [RejectedRow] = []
        while try statement.step() {
            rejects.append(RejectedRow(line: statement.int64(0), reason: statement.text(1) ?? "", message: statement.text(2) ?? ""))
        }
        statement.reset()
        return rejects
    }

    static func decodeStrings(_ json: String, on connection: SQLiteConnection) throws(WarehouseError) -> [String] {
        if json == "[]" { return [] }
        let statement = try connection.cached("SELECT value FROM json_each(?1) ORDER BY key")
        statement.bind(json, at: 1)
        var strings: [String] = []
        while try statement.step() { strings.append(statement.text(0) ?? "") }
        statement.reset()
        return strings
    }

    /// Appends `string` as a JSON string literal, in UTF-8.
    static func appendQuoted(_ string: String, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                json.append(UInt8(ascii: "\\"))
                json.append(byte)
            case ..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                json.append(contentsOf: "\\u00".utf8)
                json.append(hex[Int(byte >> 4)])
                json.append(hex[Int(byte & 0xF)])
            default:
                json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
    }

    /// Appends `string` as a JSON string literal.
    static func appendQuoted(_ string: String, to json: inout String) {
        json += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": json += "\\\""
            case "\\": json += "\\\\"
            case "\n": json += "\\n"
            case "\r": json += "\\r"
            case "\t": json += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                json += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: json.unicodeScalars.append(scalar)
            }
        }
        json += "\""
    }
}
