// The contracts where the pipeline meets storage: rows, uploads, reports,
// and the ObjectStore / Warehouse protocols that the embedded and the
// Google Cloud back ends implement. Pure Swift, no Foundation.

/// An exact decimal with six places after the point, kept as an integer count
/// of millionths. Money is never a binary float.
public struct ExactDecimal: Sendable, Hashable, Comparable {
    /// The value times 1,000,000.
    public var micros: Int64
    /// Millionths in one unit.
    public static let scale: Int64 = 1_000_000
    public static let zero = ExactDecimal(micros: 0)

    public init(micros: Int64) { self.micros = micros }

    public static func < (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool { lhs.micros < rhs.micros }
}

/// A wall-clock date and time with no time zone, as the sales files write it:
/// seconds since 1970-01-01T00:00:00 of that same wall clock.
public struct LocalDateTime: Sendable, Hashable, Comparable {
    public var secondsSinceEpoch: Int64
    public init(secondsSinceEpoch: Int64) { self.secondsSinceEpoch = secondsSinceEpoch }
    /// Days since 1970-01-01 (floor), the `invoice_date`.
    public var dayNumber: Int64 {
        secondsSinceEpoch >= 0 ? secondsSinceEpoch / 86_400 : (secondsSinceEpoch - 86_399) / 86_400
    }
    public static func < (lhs: LocalDateTime, rhs: LocalDateTime) -> Bool {
        lhs.secondsSinceEpoch < rhs.secondsSinceEpoch
    }
}

/// The 128-bit row key: the invoice time (big-endian) in the high half, a hash
/// of the region and the normalized fields in the low half. Rendered as 32 hex digits.
public struct RowKey: Sendable, Hashable, Comparable {
    public var high: UInt64
    public var low: UInt64
    public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }
    public static func < (lhs: RowKey, rhs: RowKey) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

/// One cleaned, typed order line, ready for a warehouse.
/// Per-upload constants (upload id, region, currency, source URI, load time) travel in `UploadContext`.
public struct OrderRow: Sendable, Equatable {
    public var rowKey: RowKey
    public var invoiceNo: String
    public var stockCode: String
    /// Trimmed, inner runs of spaces collapsed; nil when blank.
    public var description: String?
    public var quantity: Int64
    public var invoiceTime: LocalDateTime
    public var unitPrice: ExactDecimal
    /// quantity × unitPrice, exact.
    public var revenue: ExactDecimal
    /// nil when blank.
    public var customerID: String?
    public var country: String
    public var isCancellation: Bool
    public var isProduct: Bool
    /// Physical line number in the file where the record starts (header = 1).
    public var sourceLine: Int64

    public init(
        rowKey: RowKey, invoiceNo: String, stockCode: String, description: String?, quantity: Int64,
        invoiceTime: LocalDateTime, unitPrice: ExactDecimal, revenue: ExactDecimal, customerID: String?,
        country: String, isCancellation: Bool, isProduct: Bool, sourceLine: Int64
    ) {
        self.rowKey = rowKey
        self.invoiceNo = invoiceNo
        self.stockCode = stockCode
        self.description = description
        self.quantity = quantity
        self.invoiceTime = invoiceTime
        self.unitPrice = unitPrice
        self.revenue = revenue
        self.customerID = customerID
        self.country = country
        self.isCancellation = isCancellation
        self.isProduct = isProduct
        self.sourceLine = sourceLine
    }
}

/// What every row of one upload shares.
public struct UploadContext: Sendable, Equatable {
    public var uploadID: String
    public var region: String
    /// ISO 4217 code from the region's configuration.
    public var currency: String
    /// `file://…` or `gs://bucket/object` of the stored raw file.
    public var sourceURI: String
    /// Microseconds since 1970-01-01T00:00:00Z.
    public var loadedAtMicros: Int64
    /// True when the load finishes one an earlier run left unfinished (some rows may be stored).
    public var resuming: Bool

    public init(uploadID: String, region: String, currency: String, sourceURI: String, loadedAtMicros: Int64,
                resuming: Bool = false) {
        self.resuming = resuming
        self.uploadID = uploadID
        self.region = region
        self.currency = currency
        self.sourceURI = sourceURI
        self.loadedAtMicros = loadedAtMicros
    }
}

/// A line that could not be loaded, with its reason code (`bad_field_count`, `bad_quantity`,
/// `bad_price`, `bad_date`, `out_of_range`, `missing_invoice_no`, … or a warehouse's own reason;
/// docs/data-contract.md lists them).
public struct RejectedRow: Sendable, Equatable, Codable {
    public var line: Int64
    public var reason: String
    public var message: String
    public init(line: Int64, reason: String, message: String) {
        self.line = line
        self.reason = reason
        self.message = message
    }
}

/// What a warehouse did with one batch.
public struct InsertResult: Sendable, Equatable {
    /// Rows of the batch that are stored as this upload's rows: newly stored, or
    /// stored before by this same upload and line (a resumed load).
    public var inserted: Int
    /// Indexes into the batch of rows not stored because the warehouse already
    /// holds their row key from another upload or another line: counted as duplicates.
    public var alreadyPresent: [Int]
    /// Rows the warehouse refused, with its reason.
    public var rejected: [RejectedRow]
    public init(inserted: Int, alreadyPresent: [Int], rejected: [RejectedRow]) {
        self.inserted = inserted
        self.alreadyPresent = alreadyPresent
        self.rejected = rejected
    }
}

/// The life of an upload. Raw values are the API's `status` strings.
public enum UploadStatus: String, Sendable, Codable, CaseIterable {
    /// Bytes arriving / being stored.
    case receiving
    /// Raw file stored; rows not yet (fully) loaded. Resumed on start.
    case stored
    /// Rows being loaded.
    case loading
    case loaded
    /// The same content for the same region was loaded before; nothing new.
    case alreadyLoaded = "already_loaded"
    /// The file as a whole could not be loaded (missing column, empty, not CSV…).
    case rejected
    /// An infrastructure failure; see `error`.
    case failed
    /// Taken back: its rows are leaving every report (resumed on start like a load).
    case retracting
    /// Taken back: its rows are in no report; the record and the raw file stay.
    case retracted

    /// True once nothing more will happen to the upload.
    public var isFinal: Bool {
        switch self {
        case .loaded, .alreadyLoaded, .rejected, .failed, .retracted: true
        case .receiving, .stored, .loading, .retracting: false
        }
    }

    /// True while the upload's rows count in reports (or are on their way in).
    public var isLive: Bool { self != .retracting && self != .retracted }
}

/// Row counts of one upload.
public struct RowCounts: Sendable, Equatable, Codable {
    public var read: Int
    public var loaded: Int
    public var rejected: Int
    public var duplicates: Int
    public init(read: Int = 0, loaded: Int = 0, rejected: Int = 0, duplicates: Int = 0) {
        self.read = read
        self.loaded = loaded
        self.rejected = rejected
        self.duplicates = duplicates
    }
}

/// Everything known about one upload: what the history and status API show.
public struct UploadRecord: Sendable, Equatable {
    public var id: String
    public var region: String
    /// The client's file name, as sent.
    public var fileName: String
    public var objectURI: String
    public var sha256: String
    public var sizeBytes: Int64
    /// `utf-8` or `windows-1252`.
    public var encoding: String
    public var status: UploadStatus
    public var rows: RowCounts
    /// Loaded rows by the report definition (product lines, net of cancellations).
    public var revenue: ExactDecimal
    public var currency: String
    /// The first rejected lines.
    public var firstRejects: [RejectedRow]
    public var rejectsURI: String?
    /// Columns in the file that the table does not have.
    public var extraColumns: [String]
    /// How the file's fields were read, known to the answer of the load that read it (not stored).
    public var dialect: CSVDialect? = nil
    /// Why the upload was rejected or failed.
    public var errorCode: String?
    public var errorMessage: String?
    /// Bytes of the raw file read by the load so far (progress).
    public var bytesProcessed: Int64
    /// Microseconds since the Unix epoch, UTC.
    public var createdAtMicros: Int64
    public var updatedAtMicros: Int64
    /// Who uploaded it (`anonymous` when access control is off) and from which address.
    public var user: String = "anonymous"
    public var clientAddress: String = ""
    /// The id of the request that brought the file (`X-Request-Id`, a traceparent's trace id, or
    /// one the server made), as on that request's log lines; nil for records made before ids.
    public var requestID: String?
    /// Who took it back, and when (microseconds since the epoch).
    public var retractedBy: String?
    public var retractedAtMicros: Int64?
    /// When the raw file of a file rejected as a whole was deleted (kept for a limited time).
    public var rawFileRemovedAtMicros: Int64?

    public init(
        id: String, region: String, fileName: String, objectURI: String, sha256: String, sizeBytes: Int64,
        encoding: String, status: UploadStatus, rows: RowCounts = RowCounts(), revenue: ExactDecimal = .zero,
        currency: String, firstRejects: [RejectedRow] = [], rejectsURI: String? = nil, extraColumns: [String] = [],
        errorCode: String? = nil, errorMessage: String? = nil, bytesProcessed: Int64 = 0,
        createdAtMicros: Int64, updatedAtMicros: Int64, user: String = "anonymous", clientAddress: String = "",
        retractedBy: String? = nil, retractedAtMicros: Int64? = nil, rawFileRemovedAtMicros: Int64? = nil
    ) {
        self.rawFileRemovedAtMicros = rawFileRemovedAtMicros
        self.user = user
        self.clientAddress = clientAddress
        self.retractedBy = retractedBy
        self.retractedAtMicros = retractedAtMicros
        self.id = id
        self.region = region
        self.fileName = fileName
        self.objectURI = objectURI
        self.sha256 = sha256
        self.sizeBytes = sizeBytes
        self.encoding = encoding
        self.status = status
        self.rows = rows
        self.revenue = revenue
        self.currency = currency
        self.firstRejects = firstRejects
        self.rejectsURI = rejectsURI
        self.extraColumns = extraColumns
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.bytesProcessed = bytesProcessed
        self.createdAtMicros = createdAtMicros
        self.updatedAtMicros = updatedAtMicros
    }
}

/// Filters of every report: all optional, all ANDed. Dates are inclusive, on `invoice_date`.
public struct ReportFilter: Sendable, Equatable {
    public var region: String?
    public var country: String?
    /// A stock code (exact, case-insensitive) or text found in the description.
    public var product: String?
    /// Days since 1970-01-01, inclusive.
    public var fromDay: Int64?
    public var toDay: Int64?
    /// The regions the asker may see (upper case), nil for all: rows of other regions are left
    /// out whatever the other filters say.
    public var allowedRegions: [String]?
    public init(region: String? = nil, country: String? = nil, product: String? = nil, fromDay: Int64? = nil, toDay: Int64? = nil,
                allowedRegions: [String]? = nil) {
        self.allowedRegions = allowedRegions
        self.region = region
        self.country = country
        self.product = product
        self.fromDay = fromDay
        self.toDay = toDay
    }
}

/// The report numbers of docs/data-contract.md, one definition for every warehouse.
public struct ReportSummary: Sendable, Equatable {
    /// Sum of revenue over product lines, cancellations included (net).
    public var revenue: ExactDecimal
    /// Distinct (region, invoice_no) among non-cancellation rows.
    public var orders: Int
    /// Distinct (region, invoice_no) among cancellation rows.
    public var cancellations: Int
    /// Sum of quantity over product lines.
    public var units: Int64
    /// Distinct non-null customer_id.
    public var customers: Int
    public init(revenue: ExactDecimal, orders: Int, cancellations: Int, units: Int64, customers: Int) {
        self.revenue = revenue
        self.orders = orders
        self.cancellations = cancellations
        self.units = units
        self.customers = customers
    }
}

/// The rows of a warehouse and the record of every upload. Calls block: call
/// them from worker threads, never from an event loop or Swift's cooperative pool.
/// Where a load hands its batches of cleaned rows: a warehouse, or a dry run that only looks.
public protocol RowSink: Sendable {
    /// Stores a batch; a row whose row key is already there is counted, not stored again.
    func insert(_ rows: [OrderRow], for upload: UploadContext) throws -> InsertResult
    /// What prepares the batches of one load for storing: the work that needs nothing stored
    /// (grouping, encoding), done on the loading thread while the batch before is being stored;
    /// nil when the sink has none.
    func makeBatchPreparer(for upload: UploadContext) -> (any BatchPreparer)?
    /// `insert(_:for:)` with what the load's `BatchPreparer` made of the same rows.
    func insert(_ rows: [OrderRow], for upload: UploadContext, prepared: (any PreparedBatch)?) throws -> InsertResult
}

extension RowSink {
    public func makeBatchPreparer(for upload: UploadContext) -> (any BatchPreparer)? { nil }
    public func insert(_ rows: [OrderRow], for upload: UploadContext, prepared: (any PreparedBatch)?) throws -> InsertResult {
        try insert(rows, for: upload)
    }
}

public protocol Warehouse: RowSink {
    /// Creates tables, indexes and views that are missing.
    func prepare() throws
    /// Throws when the warehouse cannot be reached or written.
    func checkReady() throws
    /// Creates or replaces the record of an upload.
    func saveUpload(_ record: UploadRecord) throws
    func upload(id: String) throws -> UploadRecord?
    /// Newest first; only uploads of `regions` (upper case) when given.
    func recentUploads(limit: Int, regions: [String]?) throws -> [UploadRecord]
    /// A finished load (or an upload recognised as one) of the same content for the same region
    /// that still counts, if any.
    func loadedUpload(region: String, sha256: String) throws -> UploadRecord?
    /// Uploads acknowledged but not finished (`stored`, `loading`), whose load `failed`
    /// (storage or warehouse trouble), or being retracted: to resume on start.
    func unfinishedUploads() throws -> [UploadRecord]
    /// Every upload of a region, oldest first.
    func uploads(region: String) throws -> [UploadRecord]
    /// Every upload with this status, oldest first.
    func uploads(status: UploadStatus) throws -> [UploadRecord]
    /// Takes an upload's rows out of every report, in batches of about `batchRows`, calling
    /// `progress` with the rows removed so far; returns how many were removed. Safe to call
    /// again after an interruption. A warehouse that leaves rows of retracted uploads out of
    /// its reports by their record (BigQuery's view) removes nothing and returns 0.
    func removeRows(ofUpload id: String, batchRows: Int, progress: (Int) -> Void) throws -> Int
    /// Whether a load skips rows the warehouse already holds (so that retracting the upload that
    /// holds them must bring them back for the others). False where reports dedupe instead.
    var loadsSkipStoredRows: Bool { get }
    /// Appends an event to the audit trail.
    func recordAudit(_ event: AuditEvent) throws
    /// Audit events, newest first.
    func auditEvents(_ query: AuditQuery) throws -> [AuditEvent]
    func summary(_ filter: ReportFilter) throws -> ReportSummary
}

/// A stored object: where it is and what it holds.
public struct StoredObject: Sendable, Equatable {
    /// `file://…` or `gs://bucket/name`.
    public var uri: String
    public var sizeBytes: Int64
    public init(uri: String, sizeBytes: Int64) {
        self.uri = uri
        self.sizeBytes = sizeBytes
    }
}

/// Streams one new object into a store. Not shared between threads.
public protocol ObjectWriter: AnyObject {
    /// Where the object will be once finished.
    var uri: String { get }
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Makes the object durable and visible.
    func finish() throws -> StoredObject
    /// Discards what was written.
    func abort()
}

/// Streams an object back. Not shared between threads.
public protocol ObjectReader: AnyObject {
    /// Fills the front of `buffer`; returns the count, 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    func close()
    /// The version of the object being read, where the store keeps versions (Cloud Storage's
    /// generation); nil elsewhere.
    var generation: String? { get }
}

extension ObjectReader {
    public var generation: String? { nil }
}

/// Where raw files and rejects are kept: a local folder, or a Cloud Storage bucket.
/// Calls block: call them from worker threads.
public protocol ObjectStore: Sendable {
    /// Starts a new object named `name` (a relative path). Never overwrites an existing one.
    func create(name: String, contentType: String) throws -> any ObjectWriter
    /// Opens an object by the URI that `finish` returned.
    func open(uri: String) throws -> any ObjectReader
    /// Throws when the store cannot be reached or written.
    func checkReady() throws
    /// Deletes an object; one that is already gone is not an error.
    func delete(uri: String) throws
    /// Stores the finished local file at `path` as a new object named `name`: a store on the
    /// same file system moves it in (no copy), another sends a copy and leaves the file.
    func store(localFile path: String, name: String, contentType: String) throws -> StoredLocalFile
}

/// A local file given to an object store: the object it became, and whether the file is still
/// at its path (a copy was sent; the caller may read it, then removes it).
public struct StoredLocalFile: Sendable, Equatable {
    public var object: StoredObject
    public var localFileRemains: Bool
    public init(object: StoredObject, localFileRemains: Bool) {
        self.object = object
        self.localFileRemains = localFileRemains
    }
}

/// What a warehouse's `BatchPreparer` made of a batch, handed back with the batch to `insert`.
public protocol PreparedBatch: Sendable {}

/// Prepares the batches of one load, in their order, on the loading thread. It may keep what
/// it learned from the batches before (so each batch is prepared by the load's own preparer).
public protocol BatchPreparer: AnyObject {
    func prepare(_ rows: [OrderRow]) -> any PreparedBatch
}

extension Warehouse {
    public var loadsSkipStoredRows: Bool { true }
    /// An upload of the same content for the same region whose raw file is stored and whose rows
    /// are being loaded (a load under way, or one a restart is resuming), if any.
    public func uploadInProgress(region: String, sha256: String) throws -> UploadRecord? {
        try unfinishedUploads().last { upload in
            upload.region == region && upload.sha256 == sha256 && (upload.status == .stored || upload.status == .loading)
        }
    }

    /// The newest uploads of every region.
    public func recentUploads(limit: Int) throws -> [UploadRecord] {
        try recentUploads(limit: limit, regions: nil)
    }
}

/// One entry of the audit trail: who did what, when, from where.
public struct AuditEvent: Sendable, Equatable {
    /// Microseconds since the epoch, UTC.
    public var atMicros: Int64
    /// The user (or `anonymous`, or `command line (USER@HOST)`).
    public var actor: String
    /// `upload`, `retraction`, `sign_in`, `sign_in_failed`, `sign_out`, `user_added`, `user_changed`,
    /// `user_removed`, `token_created`, `token_revoked`.
    public var kind: String
    /// What it is about: an upload id, a user name.
    public var subject: String
    /// The client's address; empty for the command line.
    public var address: String
    /// A sentence for people.
    public var detail: String
    public init(atMicros: Int64, actor: String, kind: String, subject: String, address: String, detail: String) {
        self.atMicros = atMicros
        self.actor = actor
        self.kind = kind
        self.subject = subject
        self.address = address
        self.detail = detail
    }
}

/// Which audit events to list: newest first, older than `beforeMicros` (paging), by actor and kind.
public struct AuditQuery: Sendable, Equatable {
    public var actor: String?
    public var kind: String?
    public var beforeMicros: Int64?
    public var limit: Int
    public init(actor: String? = nil, kind: String? = nil, beforeMicros: Int64? = nil, limit: Int = 50) {
        self.actor = actor
        self.kind = kind
        self.beforeMicros = beforeMicros
        self.limit = limit
    }
}
