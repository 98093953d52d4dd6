import Synchronization
/// One column of a table schema.
public struct TableField: Sendable, Equatable {
    public var name: String
    /// `STRING`, `INT64`, `NUMERIC`, `BOOL`, `DATE`, `DATETIME`, `TIMESTAMP`, `FLOAT64` …
    public var type: String
    /// `NULLABLE` (default), `REQUIRED` or `REPEATED`.
    public var mode: String
    public var description: String?

    public init(_ name: String, _ type: String, mode: String = "NULLABLE", description: String? = nil) {
        self.name = name
        self.type = type
        self.mode = mode
        self.description = description
    }
}

/// What a new table looks like.
public struct TableDefinition: Sendable {
    public var fields: [TableField]
    /// A DATE (or TIMESTAMP/DATETIME) column to partition by day; nil for none.
    public var partitionField: String?
    /// An INT64 column to partition by integer ranges (`rangePartitioning`), with its range; nil for none.
    public var rangePartition: (field: String, start: Int64, end: Int64, interval: Int64)?
    /// Up to four columns to cluster by.
    public var clusteringFields: [String]
    public var description: String?

    public init(fields: [TableField], partitionField: String? = nil,
                rangePartition: (field: String, start: Int64, end: Int64, interval: Int64)? = nil,
                clusteringFields: [String] = [], description: String? = nil) {
        self.fields = fields
        self.partitionField = partitionField
        self.rangePartition = rangePartition
        self.clusteringFields = clusteringFields
        self.description = description
    }
}

/// One row for `insertAll`: a JSON object (bytes) and the id BigQuery dedupes it by.
public struct InsertRow: Sendable, Equatable {
    public var insertID: String?
    /// One JSON object, column name → value.
    public var json: [UInt8]
    public init(insertID: String?, json: [UInt8]) {
        self.insertID = insertID
        self.json = json
    }
}

/// Why BigQuery refused one row of an `insertAll`.
public struct RowInsertError: Sendable, Equatable {
    /// Index of the row in the request.
    public var index: Int
    /// `invalid`, `stopped` (valid, but not inserted because another row failed) …
    public var reason: String
    public var message: String
    /// The column, when known.
    public var location: String?

    /// A `stopped` row was valid: send it again.
    public var isStopped: Bool { reason == "stopped" }
    /// A row BigQuery did not store for a passing reason: sent again with the same insertId (as
    /// Beam's retry strategy does). Others (`invalid` …) are the row's own fault.
    public var isTransient: Bool { Self.transientReasons.contains(reason) }
    public static let transientReasons: Set<String> = ["backendError", "internalError", "timeout", "stopped"]
}

/// A named query parameter (`@name` in the SQL).
public struct QueryParameter: Sendable, Equatable {
    public var name: String
    /// `STRING`, `INT64`, `NUMERIC`, `DATE`, `BOOL`, `TIMESTAMP` …
    public var type: String
    /// The value as BigQuery's text form; nil for NULL.
    public var value: String?
    /// For an `ARRAY` parameter: the element type, and the elements in `arrayValues`.
    public var elementType: String?
    public var arrayValues: [String]

    public init(_ name: String, _ type: String, _ value: String?) {
        self.name = name
        self.type = type
        self.value = value
        self.elementType = nil
        self.arrayValues = []
    }

    /// An `ARRAY<elementType>` parameter (`x IN UNNEST(@name)`).
    public static func array(_ name: String, of elementType: String, _ values: [String]) -> QueryParameter {
        var parameter = QueryParameter(name, "ARRAY", nil)
        parameter.elementType = elementType
        parameter.arrayValues = values
        return parameter
    }

    public static func string(_ name: String, _ value: String?) -> QueryParameter { .init(name, "STRING", value) }
    public static func int64(_ name: String, _ value: Int64?) -> QueryParameter { .init(name, "INT64", value.map { String($0) }) }
    /// `YYYY-MM-DD`.
    public static func date(_ name: String, _ value: String?) -> QueryParameter { .init(name, "DATE", value) }
    public static func bool(_ name: String, _ value: Bool?) -> QueryParameter { .init(name, "BOOL", value.map { $0 ? "true" : "false" }) }
}

/// A cell of a query result, as the REST API sends it (scalars as strings).
public enum QueryValue: Sendable, Equatable {
    case null
    case scalar(String)
    case array([QueryValue])
    case record([QueryValue])

    /// The text of a scalar; nil for NULL.
    public var string: String? { if case .scalar(let text) = self { text } else { nil } }
    public var int64: Int64? { string.flatMap { Int64($0) } ?? string.flatMap { Double($0) }.map { Int64($0) } }
    public var bool: Bool? { string.map { $0 == "true" } }
    public var isNull: Bool { self == .null }
}

/// All rows of a finished query.
public struct QueryResult: Sendable, Equatable {
    public var fields: [String]
    public var rows: [[QueryValue]]
    /// Pages fetched (1 + getQueryResults calls).
    public var pages: Int

    /// The position of a column by name.
    public func column(_ name: String) -> Int? { fields.firstIndex(of: name) }

    /// The cell of `row` in column `name` (`.null` when there is no such column).
    public func value(_ row: Int, _ name: String) -> QueryValue {
        guard let index = column(name), index < rows[row].count else { return .null }
        return rows[row][index]
    }
}

/// Settings of the BigQuery client.
public struct BigQuerySettings: Sendable, Equatable {
    public var retryPolicy: RetryPolicy = RetryPolicy()
    /// Compress insertAll bodies with gzip.
    public var gzipInsertAll: Bool = true
    /// zlib's fastest level: insertAll JSON is repetitive, and level 1 shrinks it about 13 times
    /// (about 48 bytes a row) at a fraction of level 6's CPU, which a fast load needs more.
    public var gzipLevel: Int32 = 1
    /// How long one jobs.query / getQueryResults call waits for the job, in milliseconds.
    public var queryWaitMilliseconds: Int = 10_000
    /// Rows per result page; nil lets the server choose.
    public var pageSize: Int? = nil
    /// A query not complete after this many seconds fails.
    public var queryDeadlineSeconds: Double = 300
    /// The dataset location (`US`, `EU` …) for new datasets and queries; nil for the default.
    public var location: String? = nil
    public init() {}
}

/// Running totals of the insertAll requests a client sent: how much JSON, and how much went
/// on the wire after gzip. Read them to size batches and to see what compression saves.
public struct InsertAllTotals: Sendable, Equatable {
    public var requests: Int64 = 0
    public var rows: Int64 = 0
    /// Bytes of the JSON request bodies before compression.
    public var jsonBytes: Int64 = 0
    /// Bytes of the request bodies as sent (after gzip when it is on).
    public var sentBytes: Int64 = 0
    public init() {}
}

/// Thread-safe insertAll totals of one client, per table.
public final class InsertAllCounters: Sendable {
    private let totals = Mutex([String: InsertAllTotals]())
    public init() {}

    /// The totals of every table together.
    public var snapshot: InsertAllTotals {
        totals.withLock { byTable in
            byTable.values.reduce(into: InsertAllTotals()) { sum, one in
                sum.requests += one.requests
                sum.rows += one.rows
                sum.jsonBytes += one.jsonBytes
                sum.sentBytes += one.sentBytes
            }
        }
    }

    /// The totals of one table (`dataset.table`).
    public func snapshot(table: String) -> InsertAllTotals {
        totals.withLock { $0[table] ?? InsertAllTotals() }
    }

    func add(table: String, rows: Int, jsonBytes: Int, sentBytes: Int) {
        totals.withLock { byTable in
            var one = byTable[table] ?? InsertAllTotals()
            one.requests += 1
            one.rows += Int64(rows)
            one.jsonBytes += Int64(jsonBytes)
            one.sentBytes += Int64(sentBytes)
            byTable[table] = one
        }
    }
}
