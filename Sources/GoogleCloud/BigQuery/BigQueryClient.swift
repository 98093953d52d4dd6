import Foundation
import Support

/// A client of the BigQuery REST API v2: datasets, tables and views created when missing,
/// streaming inserts (`insertAll`) and queries (`jobs.query` + `getQueryResults` pages).
/// SQL must name tables in full (`project.dataset.table`). Calls block; use worker threads.
public final class BigQueryClient: Sendable {
    public let endpoint: String
    public let project: String
    public let settings: BigQuerySettings
    /// What the insertAll calls of this client sent so far.
    public let insertAllCounters = InsertAllCounters()
    let transport: RESTTransport

    public static let defaultEndpoint = "https://bigquery.googleapis.com"

    /// - Parameters:
    ///   - endpoint: nil picks `BIGQUERY_EMULATOR_HOST` when set, else Google's endpoint.
    ///   - credentials: nil picks anonymous access for an emulator, else Application Default Credentials.
    public init(endpoint: String? = nil, project: String, credentials: (any TokenProvider)? = nil,
                httpClient: any HTTPClient = CurlHTTPClient(), extraHeaders: [(name: String, value: String)] = [],
                settings: BigQuerySettings = BigQuerySettings()) throws {
        (self.endpoint, self.transport) = try ServiceEndpoint.connect(
            endpoint: endpoint, emulatorVariable: "BIGQUERY_EMULATOR_HOST", defaultEndpoint: BigQueryClient.defaultEndpoint,
            credentials: credentials, httpClient: httpClient, extraHeaders: extraHeaders, retryPolicy: settings.retryPolicy)
        self.project = project
        self.settings = settings
    }

    var projectURL: String { "\(endpoint)/bigquery/v2/projects/\(PercentEncoding.encode(project))" }

    func tableURL(_ dataset: String, _ table: String) -> String {
        "\(projectURL)/datasets/\(PercentEncoding.encode(dataset))/tables/\(PercentEncoding.encode(table))"
    }

    /// `project.dataset.table` quoted for SQL.
    public func qualified(_ dataset: String, _ table: String) -> String { "`\(project).\(dataset).\(table)`" }

    /// Creates the dataset unless it exists. True when it was created.
    @discardableResult
    public func createDatasetIfMissing(_ dataset: String) throws -> Bool {
        var body = JSONWriter()
        body.beginObject()
        body.key("datasetReference"); body.beginObject()
        body.field("projectId", project); body.field("datasetId", dataset)
        body.endObject()
        if let location = settings.location { body.field("location", location) }
        body.endObject()
        return try createIfMissing(url: "\(projectURL)/datasets", body: body.bytes)
    }

    /// Creates the table unless it exists. True when it was created. An existing table is left as it is.
    @discardableResult
    public func createTableIfMissing(dataset: String, table: String, definition: TableDefinition) throws -> Bool {
        var body = JSONWriter()
        body.beginObject()
        writeReference(&body, dataset, table)
        if let description = definition.description { body.field("description", description) }
        body.key("schema"); body.beginObject(); body.key("fields"); body.beginArray()
        for field in definition.fields {
            body.beginObject()
            body.field("name", field.name); body.field("type", field.type); body.field("mode", field.mode)
            if let description = field.description { body.field("description", description) }
            body.endObject()
        }
        body.endArray(); body.endObject()
        if let partition = definition.partitionField {
            body.key("timePartitioning"); body.beginObject()
            body.field("type", "DAY"); body.field("field", partition)
            body.endObject()
        }
        if let range = definition.rangePartition {
            // INT64 values are strings in BigQuery's JSON.
            body.key("rangePartitioning"); body.beginObject()
            body.field("field", range.field)
            body.key("range"); body.beginObject()
            body.field("start", String(range.start)); body.field("end", String(range.end)); body.field("interval", String(range.interval))
            body.endObject()
            body.endObject()
        }
        if !definition.clusteringFields.isEmpty {
            body.key("clustering"); body.beginObject(); body.key("fields"); body.beginArray()
            for field in definition.clusteringFields { body.value(field) }
            body.endArray(); body.endObject()
        }
        body.endObject()
        return try createIfMissing(url: "\(projectURL)/datasets/\(PercentEncoding.encode(dataset))/tables", body: body.bytes)
    }

    /// Creates a standard-SQL view unless it exists. True when it was created.
    @discardableResult
    public func createViewIfMissing(dataset: String, view: String, sql: String) throws -> Bool {
        var body = JSONWriter()
        body.beginObject()
        writeReference(&body, dataset, view)
        body.key("view"); body.beginObject()
        body.field("query", sql); body.field("useLegacySql", false)
        body.endObject()
        body.endObject()
        return try createIfMissing(url: "\(projectURL)/datasets/\(PercentEncoding.encode(dataset))/tables", body: body.bytes)
    }

    /// True when the table (or view) exists.
    public func tableExists(dataset: String, table: String) throws -> Bool {
        do {
            _ = try transport.send(HTTPRequest(method: "GET", url: tableURL(dataset, table)), idempotent: true)
            return true
        } catch let error as GoogleCloudError where error.httpStatus == 404 {
            return false
        }
    }

    /// Deletes a table or view; true when it existed.
    @discardableResult
    public func deleteTable(dataset: String, table: String) throws -> Bool {
        do {
            _ = try transport.send(HTTPRequest(method: "DELETE", url: tableURL(dataset, table)), idempotent: true)
            return true
        } catch let error as GoogleCloudError where error.httpStatus == 404 {
            return false
        }
    }

    /// Creates the view, or changes its query when an earlier version made it with another one.
    /// True when it was created or changed.
    @discardableResult
    public func createOrUpdateView(dataset: String, view: String, sql: String) throws -> Bool {
        if try createViewIfMissing(dataset: dataset, view: view, sql: sql) { return true }
        let current = try GoogleCloudError.jsonObject(
            try transport.send(HTTPRequest(method: "GET", url: tableURL(dataset, view)), idempotent: true).body, what: "tables.get")
        if ((current["view"] as? [String: Any])?["query"] as? String) == sql { return false }
        var body = JSONWriter()
        body.beginObject()
        body.key("view"); body.beginObject()
        body.field("query", sql); body.field("useLegacySql", false)
        body.endObject()
        body.endObject()
        try patch(dataset, view, body.bytes)
        return true
    }

    /// The table's resource (`tables.get`), or nil when it does not exist.
    public func tableResource(dataset: String, table: String) throws -> [String: Any]? {
        do {
            return try GoogleCloudError.jsonObject(
                try transport.send(HTTPRequest(method: "GET", url: tableURL(dataset, table)), idempotent: true).body, what: "tables.get")
        } catch let error as GoogleCloudError where error.httpStatus == 404 {
            return nil
        }
    }

    /// Adds the `fields` a table made by an earlier version lacks (new columns are NULLABLE, as
    /// BigQuery allows). Returns the names added.
    @discardableResult
    public func addMissingColumns(dataset: String, table: String, fields: [TableField]) throws -> [String] {
        let current = try GoogleCloudError.jsonObject(
            try transport.send(HTTPRequest(method: "GET", url: tableURL(dataset, table)), idempotent: true).body, what: "tables.get")
        let existing = ((current["schema"] as? [String: Any])?["fields"] as? [[String: Any]]) ?? []
        let names = Set(existing.compactMap { $0["name"] as? String })
        let missing = fields.filter { !names.contains($0.name) }
        guard !missing.isEmpty else { return [] }
        var all = existing
        for field in missing {
            var entry: [String: Any] = ["name": field.name, "type": field.type, "mode": "NULLABLE"]
            if let description = field.description { entry["description"] = description }
            all.append(entry)
        }
        let body = try JSONSerialization.data(withJSONObject: ["schema": ["fields": all]])
        try patch(dataset, table, [UInt8](body))
        return missing.map(\.name)
    }

    /// tables.patch with a JSON body.
    private func patch(_ dataset: String, _ table: String, _ body: [UInt8]) throws {
        var request = HTTPRequest(method: "PATCH", url: tableURL(dataset, table), body: .bytes(body))
        request.addHeader("Content-Type", "application/json")
        _ = try transport.send(request, idempotent: true)
    }

    private func writeReference(_ body: inout JSONWriter, _ dataset: String, _ table: String) {
        body.key("tableReference"); body.beginObject()
        body.field("projectId", project); body.field("datasetId", dataset); body.field("tableId", table)
        body.endObject()
    }

    /// POSTs a create; 409 (already exists) is not an error. Retrying is safe for that reason.
    private func createIfMissing(url: String, body: [UInt8]) throws -> Bool {
        var request = HTTPRequest(method: "POST", url: url, body: .bytes(body))
        request.addHeader("Content-Type", "application/json")
        return try RetryLoop.run(policy: settings.retryPolicy, idempotent: true) { attempt in
            do {
                _ = try transport.sendOnce(request)
                return true
            } catch let error as GoogleCloudError where error.httpStatus == 409 {
                return false
            }
        }
    }
}

extension GoogleCloudError {
    /// Reads a JSON object from a response body.
    static func jsonObject(_ body: [UInt8], what: String) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw GoogleCloudError.invalidResponse("\(what): the answer is not a JSON object")
        }
        return object
    }
}
