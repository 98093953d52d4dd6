import Foundation
import Support

extension BigQueryClient {
    /// Streams rows into a table (`tabledata.insertAll`). The body is gzip-compressed when
    /// the settings say so. With insert ids the call is retried on transient failures
    /// (BigQuery drops rows whose id it saw in about the last minute); without, it is sent once.
    /// Returns the per-row errors; an empty array means every row was accepted.
    public func insertAll(dataset: String, table: String, rows: [InsertRow], skipInvalidRows: Bool = true,
                          ignoreUnknownValues: Bool = false) throws -> [RowInsertError] {
        guard !rows.isEmpty else { return [] }
        var items: [UInt8] = []
        items.reserveCapacity(rows.reduce(0) { $0 + $1.json.count + 48 })
        for (position, row) in rows.enumerated() {
            var item = JSONWriter(capacity: 64)
            item.beginObject()
            if let id = row.insertID { item.field("insertId", id) }
            item.key("json")
            item.raw(row.json)
            item.endObject()
            if position > 0 { items.append(UInt8(ascii: ",")) }
            items += item.bytes
        }
        return try insertAll(dataset: dataset, table: table, encodedRows: items, rowCount: rows.count,
                             idempotent: rows.allSatisfy { $0.insertID != nil }, skipInvalidRows: skipInvalidRows,
                             ignoreUnknownValues: ignoreUnknownValues)
    }

    /// `insertAll` of rows encoded piece by piece: `encode` gets a sink and hands it the
    /// comma-separated items `{"insertId": …, "json": {…}}` of the request's `rows` array in pieces
    /// (say 64 KiB each); with gzip on, each piece is compressed as it comes, so a request's JSON
    /// never exists whole in memory.
    public func insertAll(dataset: String, table: String, rowCount: Int, idempotent: Bool, skipInvalidRows: Bool = true,
                          encode: (_ sink: ([UInt8]) throws -> Void) throws -> Void) throws -> [RowInsertError] {
        guard rowCount > 0 else { return [] }
        let head = Array(#"{"kind":"bigquery#tableDataInsertAllRequest","skipInvalidRows":"#.utf8)
            + Array((skipInvalidRows ? "true" : "false").utf8) + Array(#","ignoreUnknownValues":false,"rows":["#.utf8)
        let tail = Array("]}".utf8)
        guard settings.gzipInsertAll else {
            var payload = head
            try encode { payload += $0 }
            payload += tail
            return try sendInsertAll(dataset: dataset, table: table, payload: payload, gzip: false, jsonBytes: payload.count,
                                     rowCount: rowCount, idempotent: idempotent)
        }
        let writer = try GzipWriter(level: settings.gzipLevel)
        try writer.write(head)
        try encode { try writer.write($0) }
        try writer.write(tail)
        let jsonBytes = writer.inputBytes
        return try sendInsertAll(dataset: dataset, table: table, payload: try writer.finish(), gzip: true, jsonBytes: jsonBytes,
                                 rowCount: rowCount, idempotent: idempotent)
    }

    /// `insertAll` of rows already encoded: `encodedRows` is the comma-separated items
    /// `{"insertId": …, "json": {…}}` of the request's `rows` array, `rowCount` of them.
    public func insertAll(dataset: String, table: String, encodedRows: [UInt8], rowCount: Int, idempotent: Bool,
                          skipInvalidRows: Bool = true, ignoreUnknownValues: Bool = false) throws -> [RowInsertError] {
        guard rowCount > 0 else { return [] }
        var payload: [UInt8] = []
        payload.reserveCapacity(encodedRows.count + 160)
        payload += Array(#"{"kind":"bigquery#tableDataInsertAllRequest","skipInvalidRows":"#.utf8)
        payload += Array((skipInvalidRows ? "true" : "false").utf8)
        payload += Array(#","ignoreUnknownValues":"#.utf8)
        payload += Array((ignoreUnknownValues ? "true" : "false").utf8)
        payload += Array(#","rows":["#.utf8)
        payload += encodedRows
        payload += Array("]}".utf8)
        let jsonBytes = payload.count
        if settings.gzipInsertAll {
            guard let compressed = Gzip.compress(payload, level: settings.gzipLevel) else {
                throw GoogleCloudError.configuration("zlib could not compress an insertAll request")
            }
            payload = compressed
        }
        return try sendInsertAll(dataset: dataset, table: table, payload: payload, gzip: settings.gzipInsertAll,
                                 jsonBytes: jsonBytes, rowCount: rowCount, idempotent: idempotent)
    }

    /// Posts an insertAll body (gzip-compressed or not) and reads the per-row errors.
    private func sendInsertAll(dataset: String, table: String, payload: [UInt8], gzip: Bool, jsonBytes: Int,
                               rowCount: Int, idempotent: Bool) throws -> [RowInsertError] {
        var request = HTTPRequest(method: "POST", url: "\(tableURL(dataset, table))/insertAll")
        request.addHeader("Content-Type", "application/json")
        if gzip { request.addHeader("Content-Encoding", "gzip") }
        insertAllCounters.add(table: "\(dataset).\(table)", rows: rowCount, jsonBytes: jsonBytes, sentBytes: payload.count)
        request.body = .bytes(payload)
        let response = try transport.send(request, idempotent: idempotent)
        let object = try GoogleCloudError.jsonObject(response.body, what: "insertAll")
        var errors: [RowInsertError] = []
        for entry in object["insertErrors"] as? [[String: Any]] ?? [] {
            let index = (entry["index"] as? Int) ?? Int(entry["index"] as? String ?? "") ?? -1
            let details = entry["errors"] as? [[String: Any]] ?? []
            let first = details.first { ($0["reason"] as? String) != "stopped" } ?? details.first
            errors.append(RowInsertError(
                index: index,
                reason: first?["reason"] as? String ?? "invalid",
                message: first?["message"] as? String ?? "",
                location: (first?["location"] as? String).flatMap { $0.isEmpty ? nil : $0 }))
        }
        return errors
    }

    /// Runs a standard-SQL query with named parameters and returns every row, following
    /// `pageToken`s. Sent with a request id, so a retried call does not run it twice.
    /// A job not complete within `budget` (else `settings.queryDeadlineSeconds`) is cancelled
    /// (`jobs.cancel`, so it stops costing) and the call fails with `.query(reason: "timeout")`.
    public func query(_ sql: String, parameters: [QueryParameter] = [], budget: Duration? = nil) throws -> QueryResult {
        let start = ContinuousClock.now
        let limit = budget ?? .seconds(settings.queryDeadlineSeconds)
        /// How long the next call may wait for the job: the usual wait, cut to what is left of the budget.
        func waitMilliseconds() -> Int64 {
            let left = limit - start.duration(to: .now)
            let leftMilliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
            return max(1, min(Int64(settings.queryWaitMilliseconds), leftMilliseconds))
        }
        var body = JSONWriter()
        body.beginObject()
        body.field("query", sql)
        body.field("useLegacySql", false)
        body.field("requestId", UUID().uuidString.lowercased())
        body.field("timeoutMs", waitMilliseconds())
        if let pageSize = settings.pageSize { body.field("maxResults", Int64(pageSize)) }
        if let location = settings.location { body.field("location", location) }
        if !parameters.isEmpty {
            body.field("parameterMode", "NAMED")
            body.key("queryParameters"); body.beginArray()
            for parameter in parameters {
                body.beginObject()
                body.field("name", parameter.name)
                body.key("parameterType"); body.beginObject(); body.field("type", parameter.type)
                if let elementType = parameter.elementType {
                    body.key("arrayType"); body.beginObject(); body.field("type", elementType); body.endObject()
                }
                body.endObject()
                body.key("parameterValue"); body.beginObject()
                if parameter.elementType != nil {
                    body.key("arrayValues"); body.beginArray()
                    for element in parameter.arrayValues { body.beginObject(); body.field("value", element); body.endObject() }
                    body.endArray()
                } else {
                    body.field("value", parameter.value)
                }
                body.endObject()
                body.endObject()
            }
            body.endArray()
        }
        body.endObject()
        var request = HTTPRequest(method: "POST", url: "\(projectURL)/queries", body: .bytes(body.bytes))
        request.addHeader("Content-Type", "application/json")
        var page = try Self.checkedQueryAnswer(transport.send(request, idempotent: true).body)

        guard let jobReference = page["jobReference"] as? [String: Any], let jobID = jobReference["jobId"] as? String else {
            if page["jobComplete"] as? Bool == false {
                throw GoogleCloudError.invalidResponse("query not complete and no job reference")
            }
            return try Self.collect(first: page, next: { _ in nil })
        }
        let location = jobReference["location"] as? String
        func results(pageToken: String?) throws -> [String: Any] {
            var query: [(String, String)] = [("timeoutMs", String(waitMilliseconds()))]
            if let location { query.append(("location", location)) }
            if let pageToken { query.append(("pageToken", pageToken)) }
            if let pageSize = settings.pageSize { query.append(("maxResults", String(pageSize))) }
            let url = "\(projectURL)/queries/\(PercentEncoding.encode(jobID))?\(PercentEncoding.query(query))"
            return try Self.checkedQueryAnswer(transport.send(HTTPRequest(method: "GET", url: url), idempotent: true).body)
        }
        while page["jobComplete"] as? Bool == false {
            if start.duration(to: .now) >= limit {
                cancelJob(jobID, location: location)
                throw GoogleCloudError.query(reason: "timeout", message: "the query did not finish in \(limit) and was cancelled")
            }
            page = try results(pageToken: nil)
        }
        return try Self.collect(first: page, next: { token in try results(pageToken: token) })
    }

    /// Asks BigQuery to stop a job (`jobs.cancel`). Best effort: the answer is not awaited beyond
    /// one attempt, and a failure is ignored (the job then runs to its end, unread).
    public func cancelJob(_ jobID: String, location: String?) {
        var query: [(String, String)] = []
        if let location { query.append(("location", location)) }
        let suffix = query.isEmpty ? "" : "?" + PercentEncoding.query(query)
        let url = "\(projectURL)/jobs/\(PercentEncoding.encode(jobID))/cancel\(suffix)"
        _ = try? transport.send(HTTPRequest(method: "POST", url: url), idempotent: false)
    }

    /// A failed job in a 200 answer becomes `.query`: `status.errorResult`, or top-level `errors`
    /// of a finished job that gave no results. The REST reference says top-level `errors` alone
    /// "do not necessarily mean that the job has completed or was unsuccessful": with a schema or
    /// columns, or while the job is still running, they are warnings and the answer stands.
    static func checkedQueryAnswer(_ body: [UInt8]) throws -> [String: Any] {
        let object = try GoogleCloudError.jsonObject(body, what: "query")
        if let status = object["status"] as? [String: Any], let result = status["errorResult"] as? [String: Any] {
            throw GoogleCloudError.query(reason: result["reason"] as? String, message: result["message"] as? String ?? "query error")
        }
        if let errors = object["errors"] as? [[String: Any]], let first = errors.first {
            let fields = (object["schema"] as? [String: Any])?["fields"] as? [[String: Any]] ?? []
            let hasResults = !fields.isEmpty
            let stillRunning = object["jobComplete"] as? Bool == false
            if !hasResults && !stillRunning {
                throw GoogleCloudError.query(reason: first["reason"] as? String, message: first["message"] as? String ?? "query error")
            }
        }
        return object
    }

    static func collect(first: [String: Any], next: (String) throws -> [String: Any]?) throws -> QueryResult {
        let schema = (first["schema"] as? [String: Any])?["fields"] as? [[String: Any]] ?? []
        var result = QueryResult(fields: schema.map { $0["name"] as? String ?? "" }, rows: [], pages: 1)
        var page = first
        while true {
            for row in page["rows"] as? [[String: Any]] ?? [] {
                let cells = row["f"] as? [[String: Any]] ?? []
                result.rows.append(cells.map { value($0["v"]) })
            }
            guard let token = page["pageToken"] as? String, !token.isEmpty, let following = try next(token) else { break }
            page = following
            result.pages += 1
        }
        return result
    }

    static func value(_ raw: Any?) -> QueryValue {
        switch raw {
        case nil, is NSNull: return .null
        case let text as String: return .scalar(text)
        case let number as NSNumber: return .scalar(number.stringValue)
        case let list as [[String: Any]]: return .array(list.map { value($0["v"]) })
        case let record as [String: Any]:
            let cells = record["f"] as? [[String: Any]] ?? []
            return .record(cells.map { value($0["v"]) })
        default: return .scalar("\(raw!)")
        }
    }
}
