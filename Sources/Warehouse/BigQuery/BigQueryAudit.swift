// Retraction and the audit trail in BigQuery.

import ETL
import GoogleCloud
import Support

extension BigQueryWarehouse {
    static let auditFields: [TableField] = [
        TableField("event_id", "STRING", mode: "REQUIRED"),
        TableField("at_micros", "INT64", mode: "REQUIRED"),
        TableField("actor", "STRING", mode: "REQUIRED"),
        TableField("kind", "STRING", mode: "REQUIRED"),
        TableField("subject", "STRING"),
        TableField("address", "STRING"),
        TableField("detail", "STRING"),
    ]

    var audit: String { client.qualified(settings.dataset, settings.auditTable) }

    /// Refuses an `orders` table made by an earlier version (partitioned by `invoice_date`, no
    /// `invoice_month`): BigQuery would refuse to stream rows older than 5 years into it.
    func checkOrdersLayout() throws {
        guard let table = try client.tableResource(dataset: settings.dataset, table: settings.ordersTable) else { return }
        let fields = ((table["schema"] as? [String: Any])?["fields"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        let timePartitioned = table["timePartitioning"] != nil
        guard !fields.contains("invoice_month") || timePartitioned else { return }
        let name = "\(client.project).\(settings.dataset).\(settings.ordersTable)"
        throw GoogleCloudError.configuration("""
            the table \(name) has the layout of an earlier version (\(timePartitioned ? "partitioned by day" : "no invoice_month column")): \
            BigQuery refuses to stream rows dated more than 5 years back into a day-partitioned table. Move it to the new \
            layout once, as the README's "Moving an orders table to the month layout" says (CREATE TABLE … PARTITION BY \
            RANGE_BUCKET(invoice_month, …) AS SELECT …), then start again
            """)
    }

    /// Nothing to delete: the report view leaves out the rows of uploads whose latest event is
    /// `retracting` or `retracted` (rows in the streaming buffer cannot be deleted anyway).
    public func removeRows(ofUpload id: String, batchRows: Int, progress: (Int) -> Void) throws -> Int { 0 }

    /// Every row is streamed; the report view keeps one per row key among the live uploads.
    public var loadsSkipStoredRows: Bool { false }

    public func recordAudit(_ event: AuditEvent) throws {
        let eventID = "\(event.atMicros)-\(UInt32.random(in: 0...UInt32.max))"
        var json = JSONWriter(capacity: 256)
        json.beginObject()
        json.field("event_id", eventID)
        json.field("at_micros", event.atMicros)
        json.field("actor", event.actor)
        json.field("kind", event.kind)
        json.field("subject", event.subject)
        json.field("address", event.address)
        json.field("detail", event.detail)
        json.endObject()
        let errors = try client.insertAll(dataset: settings.dataset, table: settings.auditTable,
                                          rows: [InsertRow(insertID: eventID, json: json.bytes)], skipInvalidRows: false)
        if let error = errors.first {
            throw GoogleCloudError.invalidResponse("audit event refused: \(error.reason) \(error.message)")
        }
    }

    public func auditEvents(_ query: AuditQuery) throws -> [AuditEvent] {
        var conditions: [String] = []
        var parameters: [QueryParameter] = [.int64("row_limit", Int64(max(0, query.limit)))]
        if let actor = query.actor { conditions.append("actor = @actor"); parameters.append(.string("actor", actor)) }
        if let kind = query.kind { conditions.append("kind = @kind"); parameters.append(.string("kind", kind)) }
        if let before = query.beforeMicros { conditions.append("at_micros < @before"); parameters.append(.int64("before", before)) }
        let result = try client.query(
            "SELECT at_micros, actor, kind, subject, address, detail FROM \(audit)"
                + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
                + " ORDER BY at_micros DESC, event_id DESC LIMIT @row_limit",
            parameters: parameters)
        return result.rows.indices.map { row in
            AuditEvent(atMicros: result.value(row, "at_micros").int64 ?? 0, actor: result.value(row, "actor").string ?? "",
                       kind: result.value(row, "kind").string ?? "", subject: result.value(row, "subject").string ?? "",
                       address: result.value(row, "address").string ?? "", detail: result.value(row, "detail").string ?? "")
        }
    }
}
