import ETL
import GoogleCloud
import Synchronization

/// Names and limits of the BigQuery warehouse.
public struct BigQueryWarehouseSettings: Sendable, Equatable {
    public var dataset = "sales"
    public var ordersTable = "orders"
    /// One row per row key, the first one stored: what reports read (insert ids are deduplicated only best effort).
    public var reportView = "orders_report"
    /// Append-only history of upload records; the latest event per upload is the record.
    public var uploadEventsTable = "upload_events"
    /// Who did what: uploads, retractions, sign-ins, user and token changes.
    public var auditTable = "audit_events"
    /// Rows per insertAll request (BigQuery refuses more than 50,000 and 10 MB).
    public var rowsPerInsert = 2000
    /// insertAll requests in flight at once, each on a thread of its own.
    public var concurrentInserts = 10
    /// Uncompressed JSON bytes per insertAll request: BigQuery refuses requests over 10 MB, so stay below.
    public var maxInsertRequestBytes = 9_000_000
    /// When a load is resumed, ask which row keys of a batch are already stored (one query per
    /// batch, pruned to its months), for the batches that may hold rows the interrupted run sent.
    /// A fresh load asks nothing: the insertId and the view's one-row-per-key make a resend harmless.
    public var checkExistingKeys = true
    /// A row BigQuery did not store for a passing reason (`stopped`, `backendError`,
    /// `internalError`, `timeout`) is sent again, with its insertId, at most this often.
    public var stoppedRowRetries = 3
    /// The time budget of one report question, in milliseconds: a job still running then is
    /// cancelled and the question fails with `WarehouseError.timedOut`. 0: the client's own deadline.
    public var reportQueryMilliseconds = 0
    public init() {}
}

/// The `Warehouse` contract over BigQuery: the flat `orders` table (partitioned by invoice
/// month, clustered by region and invoice date; see `ordersDefinition`), a view that keeps one
/// row per `row_key`, and an append-only table of upload events. Calls block.
public final class BigQueryWarehouse: Warehouse {
    public let client: BigQueryClient
    public let settings: BigQueryWarehouseSettings
    /// Microseconds since the epoch, UTC (injectable for tests).
    let clock: @Sendable () -> Int64
    /// For resumed loads: the last source line stored by each upload before it was interrupted.
    let resumePoints = Mutex<[String: Int64]>([:])

    public init(client: BigQueryClient, settings: BigQueryWarehouseSettings = BigQueryWarehouseSettings(),
                clock: @escaping @Sendable () -> Int64 = BigQueryWarehouse.nowMicros) {
        self.client = client
        self.settings = settings
        self.clock = clock
    }

    /// The current time in microseconds since the epoch.
    public static func nowMicros() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000
    }

    var orders: String { client.qualified(settings.dataset, settings.ordersTable) }
    var report: String { client.qualified(settings.dataset, settings.reportView) }
    var events: String { client.qualified(settings.dataset, settings.uploadEventsTable) }

    /// The columns of `orders`, in the design's order.
    public static let orderFields: [TableField] = [
        TableField("row_key", "STRING", mode: "REQUIRED", description: "128-bit key, hex: invoice time then a hash of the row"),
        TableField("upload_id", "STRING", mode: "REQUIRED"),
        TableField("region", "STRING", mode: "REQUIRED"),
        TableField("invoice_no", "STRING", mode: "REQUIRED"),
        TableField("stock_code", "STRING", mode: "REQUIRED"),
        TableField("description", "STRING"),
        TableField("quantity", "INT64", mode: "REQUIRED"),
        TableField("invoice_ts", "DATETIME", mode: "REQUIRED"),
        TableField("invoice_date", "DATE", mode: "REQUIRED"),
        TableField("invoice_month", "INT64", mode: "REQUIRED",
                   description: "months since January 1970 of invoice_date: the integer-range partitioning column"),
        TableField("unit_price", "NUMERIC", mode: "REQUIRED"),
        TableField("currency", "STRING", mode: "REQUIRED"),
        TableField("revenue", "NUMERIC", mode: "REQUIRED"),
        TableField("customer_id", "STRING"),
        TableField("country", "STRING"),
        TableField("is_cancellation", "BOOL", mode: "REQUIRED"),
        TableField("is_product", "BOOL", mode: "REQUIRED"),
        TableField("source_uri", "STRING", mode: "REQUIRED"),
        TableField("source_line", "INT64", mode: "REQUIRED"),
        TableField("loaded_at", "TIMESTAMP", mode: "REQUIRED"),
    ]

    /// Integer-range partitions of one month each, January 1970 to December 2119 (1,800 of
    /// BigQuery's 10,000); earlier and later months go to the `__UNPARTITIONED__` partition.
    public static let monthPartitions = (field: "invoice_month", start: Int64(0), end: Int64(1800), interval: Int64(1))

    /// Partitioned by month number, not by date: BigQuery streams rows into a date-partitioned
    /// table only within 5 years before and 1 year after today, and sales of any date must load.
    /// Integer ranges have no such window, and date filters still prune whole months.
    public static let ordersDefinition = TableDefinition(
        fields: orderFields, rangePartition: monthPartitions, clusteringFields: ["region", "invoice_date"],
        description: "Cleaned sales order lines")

    public func prepare() throws {
        try client.createDatasetIfMissing(settings.dataset)
        if !(try client.createTableIfMissing(dataset: settings.dataset, table: settings.ordersTable, definition: Self.ordersDefinition)) {
            try checkOrdersLayout()
        }
        try client.createTableIfMissing(
            dataset: settings.dataset, table: settings.uploadEventsTable,
            definition: TableDefinition(fields: Self.uploadEventFields, description: "Upload records, one event per change"))
        // Tables made by an earlier version get the columns added since.
        try client.addMissingColumns(dataset: settings.dataset, table: settings.uploadEventsTable, fields: Self.uploadEventFields)
        try client.createTableIfMissing(
            dataset: settings.dataset, table: settings.auditTable,
            definition: TableDefinition(fields: Self.auditFields, description: "Who did what: uploads, retractions, sign-ins, users"))
        let columns = Self.orderFields.map(\.name).joined(separator: ", ")
        // One row per row key, among the rows of uploads whose load finished and that were not
        // retracted: a load in progress is seen whole once its `loaded` event is written, and
        // streamed rows cannot be deleted while in the streaming buffer, so a retraction is an event.
        let dedupe = """
            SELECT \(columns) FROM (
              SELECT \(columns), ROW_NUMBER() OVER (
                PARTITION BY invoice_month, region, row_key ORDER BY loaded_at, upload_id, source_line) AS key_rank
              FROM \(orders)
              WHERE upload_id IN (SELECT upload_id FROM \(events) WHERE status IN ('loaded', 'already_loaded'))
                AND upload_id NOT IN (SELECT upload_id FROM \(events) WHERE status IN ('retracting', 'retracted'))
            ) WHERE key_rank = 1
            """
        try client.createOrUpdateView(dataset: settings.dataset, view: settings.reportView, sql: dedupe)
    }

    public func checkReady() throws {
        guard try client.tableExists(dataset: settings.dataset, table: settings.ordersTable) else {
            throw GoogleCloudError.configuration("table \(settings.dataset).\(settings.ordersTable) does not exist")
        }
    }

    public func insert(_ rows: [OrderRow], for upload: UploadContext) throws -> InsertResult {
        var result = InsertResult(inserted: 0, alreadyPresent: [], rejected: [])
        guard !rows.isEmpty else { return result }
        let mayHoldStored = settings.checkExistingKeys && upload.resuming ? try mayHoldStoredRows(rows, upload) : false
        let stored = mayHoldStored ? try storedKeys(rows.map { BigQueryText.hex($0.rowKey) }, rows) : [:]
        var seen = Set<RowKey>(minimumCapacity: rows.count)
        var toSend: [Int] = []
        for (index, row) in rows.enumerated() {
            if !stored.isEmpty, let holder = stored[BigQueryText.hex(row.rowKey)] {
                if holder.upload == upload.uploadID && holder.line == row.sourceLine {
                    result.inserted += 1  // stored by this same load before it was interrupted
                } else {
                    result.alreadyPresent.append(index)
                }
            } else if !seen.insert(row.rowKey).inserted {
                result.alreadyPresent.append(index)
            } else {
                toSend.append(index)
            }
        }
        // Requests of at most `rowsPerInsert` rows and `maxInsertRequestBytes` bytes of JSON,
        // `concurrentInserts` of them in flight at once; each is encoded on the thread that sends it.
        let rowLimit = max(1, min(settings.rowsPerInsert, Self.insertAllRowLimit))
        var requests: [[Int]] = []
        var request: [Int] = []
        var requestBytes = 256
        for index in toSend {
            let size = Self.estimatedJSONBytes(rows[index])
            if !request.isEmpty && (request.count >= rowLimit || requestBytes + size > settings.maxInsertRequestBytes) {
                requests.append(request)
                request.removeAll(keepingCapacity: true)
                requestBytes = 256
            }
            request.append(index)
            requestBytes += size
        }
        if !request.isEmpty { requests.append(request) }
        let planned = requests
        let partial = Mutex([InsertResult](repeating: InsertResult(inserted: 0, alreadyPresent: [], rejected: []), count: requests.count))
        let encoder = BigQueryRowEncoder(upload)
        try ConcurrentWork.run(count: planned.count, width: settings.concurrentInserts) { [self] number in
            var outcome = InsertResult(inserted: 0, alreadyPresent: [], rejected: [])
            try send(planned[number], rows, encoder: encoder, into: &outcome)
            partial.withLock { $0[number] = outcome }
        }
        for outcome in partial.withLock({ $0 }) {
            result.inserted += outcome.inserted
            result.rejected += outcome.rejected
        }
        result.rejected.sort { $0.line < $1.line }
        return result
    }

    /// An upper estimate of a row's insertAll JSON, with its insertId and wrapping, for request sizes.
    static func estimatedJSONBytes(_ row: OrderRow) -> Int {
        // Fixed names and values (keys, dates, numbers, booleans) stay under 560 bytes; the
        // texts are counted at up to six bytes each (JSON escapes).
        560 + 6 * (row.invoiceNo.utf8.count + row.stockCode.utf8.count + (row.description?.utf8.count ?? 0)
            + (row.customerID?.utf8.count ?? 0) + row.country.utf8.count)
    }

    /// Whether a batch of a resumed load may hold rows the interrupted run stored: lines up to the
    /// last one stored for the upload (asked once per upload and kept).
    private func mayHoldStoredRows(_ rows: [OrderRow], _ upload: UploadContext) throws -> Bool {
        let known = resumePoints.withLock { $0[upload.uploadID] }
        let last: Int64
        if let known {
            last = known
        } else {
            let result = try client.query(
                "SELECT MAX(source_line) AS last_line FROM \(orders) WHERE upload_id = @upload",
                parameters: [.string("upload", upload.uploadID)])
            last = result.rows.isEmpty ? -1 : result.value(0, "last_line").int64 ?? -1
            resumePoints.withLock { points in
                if points.count > 64 { points.removeAll() }
                points[upload.uploadID] = last
            }
        }
        return rows.contains { $0.sourceLine <= last }
    }

    /// BigQuery's hard limit of rows per insertAll request.
    public static let insertAllRowLimit = 50_000

    /// Sends rows (with their indexes in the batch); refused rows become rejects, rows held back
    /// for a passing reason are sent again after a backoff.
    private func send(_ indexes: [Int], _ rows: [OrderRow], encoder: BigQueryRowEncoder,
                      into result: inout InsertResult) throws {
        var pending = indexes
        var rounds = 0
        while !pending.isEmpty {
            let rowsNow = pending
            // Encoded in pieces of about 64 KiB, each compressed as it comes.
            let errors = try client.insertAll(dataset: settings.dataset, table: settings.ordersTable, rowCount: rowsNow.count,
                                              idempotent: true, skipInvalidRows: true) { sink in
                var piece: [UInt8] = []
                piece.reserveCapacity(72 * 1024)
                for (position, index) in rowsNow.enumerated() {
                    if position > 0 { piece.append(UInt8(ascii: ",")) }
                    encoder.appendInsert(rows[index], to: &piece)
                    if piece.count >= 64 * 1024 {
                        try sink(piece)
                        piece.removeAll(keepingCapacity: true)
                    }
                }
                if !piece.isEmpty { try sink(piece) }
            }
            var heldBack: [Int] = []
            var failed = Set<Int>()
            for error in errors where error.index >= 0 && error.index < pending.count {
                failed.insert(error.index)
                let batchIndex = pending[error.index]
                if error.isTransient {
                    heldBack.append(batchIndex)
                } else {
                    let column = error.location.map { " (\($0))" } ?? ""
                    result.rejected.append(RejectedRow(line: rows[batchIndex].sourceLine, reason: "warehouse_\(error.reason)",
                                                       message: "BigQuery refused the row\(column): \(error.message)"))
                }
            }
            result.inserted += pending.count - failed.count
            rounds += 1
            if rounds > settings.stoppedRowRetries {
                for index in heldBack {
                    result.rejected.append(RejectedRow(line: rows[index].sourceLine, reason: "warehouse_retries_exhausted",
                                                       message: "BigQuery did not store the row after \(rounds) attempts (a passing error each time)"))
                }
                return
            }
            pending = heldBack
            if !pending.isEmpty {
                RetryLoop.sleep(client.settings.retryPolicy.backoff(afterAttempt: rounds, unit: Double.random(in: 0..<1)))
            }
        }
    }

    /// Row keys of the batch already in the table, with the upload and line that stored them.
    private func storedKeys(_ keys: [String], _ rows: [OrderRow]) throws -> [String: (upload: String, line: Int64)] {
        let days = rows.map(\.invoiceTime.dayNumber)
        let result = try client.query(
            """
            SELECT row_key, upload_id, source_line FROM \(orders)
            WHERE invoice_month BETWEEN @first_month AND @last_month
              AND invoice_date BETWEEN @first_day AND @last_day AND row_key IN UNNEST(@keys)
              AND upload_id NOT IN (SELECT upload_id FROM \(events) WHERE status IN ('retracting', 'retracted'))
            """,
            parameters: [.int64("first_month", LocalDateTime.monthNumber(dayNumber: days.min()!)),
                         .int64("last_month", LocalDateTime.monthNumber(dayNumber: days.max()!)),
                         .date("first_day", BigQueryText.date(days: days.min()!)),
                         .date("last_day", BigQueryText.date(days: days.max()!)),
                         .array("keys", of: "STRING", Array(Set(keys)))])
        var stored: [String: (upload: String, line: Int64)] = [:]
        for index in result.rows.indices {
            guard let key = result.value(index, "row_key").string else { continue }
            let holder = (upload: result.value(index, "upload_id").string ?? "", line: result.value(index, "source_line").int64 ?? -1)
            if let existing = stored[key], existing.upload <= holder.upload { continue }
            stored[key] = holder
        }
        return stored
    }

    /// One `orders` row as JSON: NUMERIC as decimal strings, DATETIME / DATE / TIMESTAMP as text.
    static func json(_ row: OrderRow, key: String, _ upload: UploadContext) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(640)
        BigQueryRowEncoder(upload).appendRow(row, to: &out)
        return out
    }

    /// Runs a report question within `settings.reportQueryMilliseconds`.
    func reportQuery(_ sql: String, parameters: [QueryParameter] = []) throws -> QueryResult {
        let budget = settings.reportQueryMilliseconds
        do {
            return try client.query(sql, parameters: parameters, budget: budget > 0 ? .milliseconds(budget) : nil)
        } catch GoogleCloudError.query(reason: "timeout", _) where budget > 0 {
            throw WarehouseError.timedOut(budget)
        }
    }

    public func summary(_ filter: ReportFilter) throws -> ReportSummary {
        let conditions = BigQueryReportConditions(filter)
        let result = try reportQuery(
            """
            SELECT
              SUM(IF(is_product, revenue, 0)) AS revenue,
              COUNT(DISTINCT IF(is_cancellation, NULL, CONCAT(region, '|', invoice_no))) AS orders,
              COUNT(DISTINCT IF(is_cancellation, CONCAT(region, '|', invoice_no), NULL)) AS cancellations,
              SUM(IF(is_product, quantity, 0)) AS units,
              COUNT(DISTINCT customer_id) AS customers
            FROM \(report) \(conditions.whereClause)
            """, parameters: conditions.parameters)
        guard !result.rows.isEmpty else { return ReportSummary(revenue: .zero, orders: 0, cancellations: 0, units: 0, customers: 0) }
        return ReportSummary(
            revenue: BigQueryText.parseDecimal(result.value(0, "revenue").string) ?? .zero,
            orders: Int(result.value(0, "orders").int64 ?? 0),
            cancellations: Int(result.value(0, "cancellations").int64 ?? 0),
            units: result.value(0, "units").int64 ?? 0,
            customers: Int(result.value(0, "customers").int64 ?? 0))
    }
}

#if canImport(Glibc)
import Glibc
#endif
