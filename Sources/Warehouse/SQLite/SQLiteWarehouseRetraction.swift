// Taking an upload back (its rows leave the table) and the audit trail, in the embedded warehouse.

import ETL

extension SQLiteWarehouse {
    /// Deletes the upload's rows in batches, each its own short transaction on the write
    /// connection, so loads and reports go on between them. Rows of one upload were inserted
    /// together, so their row ids form a narrow span: it is found with one read and walked in
    /// ranges of `batchRows` row ids, each deleted through the row id (no index on the upload).
    public func removeRows(ofUpload id: String, batchRows: Int, progress: (Int) -> Void) throws -> Int {
        let batch = Int64(max(1, batchRows))
        let found = try withReader { connection throws(WarehouseError) -> (ref: Int64, low: Int64, high: Int64)? in
            let lookup = try connection.cached("SELECT ref FROM uploads WHERE id = ?1")
            defer { lookup.reset() }
            lookup.bind(id, at: 1)
            guard try lookup.step() else { return nil }
            let ref = lookup.int64(0)
            if case .withoutRowID = options.rowLayout { return (ref, 0, -1) }
            let span = try connection.cached("SELECT min(rowid), max(rowid) FROM order_rows WHERE upload_ref = ?1")
            defer { span.reset() }
            span.bind(ref, at: 1)
            guard try span.step(), !span.isNull(0) else { return (ref, 0, -1) }
            return (ref, span.int64(0), span.int64(1))
        }
        guard let found else { return 0 }
        try removeReportCells(uploadRef: found.ref)
        var removed = 0
        if case .withoutRowID = options.rowLayout {
            // No row ids: delete by key, a batch at a time.
            while true {
                let count = try writer.withLock { writer throws(WarehouseError) -> Int in
                    let statement = try writer.connection.cached("""
                        DELETE FROM order_rows WHERE row_key IN (SELECT row_key FROM order_rows WHERE upload_ref = ?1 LIMIT ?2)
                        """)
                    statement.bind(found.ref, at: 1)
                    statement.bind(batch, at: 2)
                    try statement.run()
                    return writer.connection.changes
                }
                if count == 0 { break }
                removed += count
                progress(removed)
            }
            return removed
        }
        var start = found.low
        while start <= found.high {
            let end = min(found.high, start + batch - 1)
            removed += try writer.withLock { writer throws(WarehouseError) -> Int in
                let statement = try writer.connection.cached(
                    "DELETE FROM order_rows WHERE rowid BETWEEN ?1 AND ?2 AND upload_ref = ?3")
                statement.bind(start, at: 1)
                statement.bind(end, at: 2)
                statement.bind(found.ref, at: 3)
                try statement.run()
                return writer.connection.changes
            }
            progress(removed)
            start = end + 1
        }
        return removed
    }

    /// Takes the upload's cells out of the report tables, in one transaction (the upload is no
    /// longer visible, so reports do not see it either way).
    private func removeReportCells(uploadRef: Int64) throws(WarehouseError) {
        try writer.withLock { writer throws(WarehouseError) in
            try writer.connection.execute("BEGIN IMMEDIATE")
            do throws(WarehouseError) {
                for sql in ["DELETE FROM report_chunks WHERE upload_ref = ?1", "DELETE FROM report_upload_places WHERE upload_ref = ?1"] {
                    let statement = try writer.connection.cached(sql)
                    statement.bind(uploadRef, at: 1)
                    try statement.run()
                }
                try writer.connection.execute("COMMIT")
            } catch {
                try? writer.connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    public func recordAudit(_ event: AuditEvent) throws {
        try writer.withLock { writer throws(WarehouseError) in
            let statement = try writer.connection.cached("""
                INSERT INTO audit_events (at_micros, actor, kind, subject, address, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                """)
            statement.bind(event.atMicros, at: 1)
            statement.bind(event.actor, at: 2)
            statement.bind(event.kind, at: 3)
            statement.bind(event.subject, at: 4)
            statement.bind(event.address, at: 5)
            statement.bind(event.detail, at: 6)
            try statement.run()
        }
    }

    public func auditEvents(_ query: AuditQuery) throws -> [AuditEvent] {
        var conditions: [String] = []
        if query.actor != nil { conditions.append("actor = ?1") }
        if query.kind != nil { conditions.append("kind = ?2") }
        if query.beforeMicros != nil { conditions.append("at_micros < ?3") }
        let sql = "SELECT at_micros, actor, kind, subject, address, detail FROM audit_events"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY at_micros DESC, id DESC LIMIT ?4"
        return try withReader { connection throws(WarehouseError) in
            let statement = try connection.cached(sql)
            defer { statement.reset() }
            statement.bind(query.actor, at: 1)
            statement.bind(query.kind, at: 2)
            statement.bind(query.beforeMicros ?? 0, at: 3)
            statement.bind(Int64(max(0, query.limit)), at: 4)
            var events: [AuditEvent] = []
            while try statement.step() {
                events.append(AuditEvent(atMicros: statement.int64(0), actor: statement.text(1) ?? "", kind: statement.text(2) ?? "",
                                         subject: statement.text(3) ?? "", address: statement.text(4) ?? "",
                                         detail: statement.text(5) ?? ""))
            }
            return events
        }
    }
}
