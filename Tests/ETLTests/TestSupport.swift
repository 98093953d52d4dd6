// Test doubles for the storage contracts, and helpers to run loads in memory.

import Foundation
import Synchronization
@testable import ETL

/// Reads bytes from memory, `chunk` bytes at a time.
final class MemoryReader: ObjectReader {
    private let bytes: [UInt8]
    private let chunk: Int
    private var offset = 0
    var failAfterBytes: Int?

    init(_ bytes: [UInt8], chunk: Int = 1 << 16) {
        self.bytes = bytes
        self.chunk = chunk
    }

    struct ReadFailure: Error, CustomStringConvertible {
        var description: String { "disk on fire" }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let failAfterBytes, offset >= failAfterBytes { throw ReadFailure() }
        let count = min(chunk, buffer.count, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
        }
        offset += count
        return count
    }

    func close() {}
}

/// Produces `total` bytes of a repeated pattern without holding them: a big file on demand.
final class PatternReader: ObjectReader {
    private let prefix: [UInt8]
    private let fill: UInt8
    private let suffix: [UInt8]
    private let fillCount: Int
    private var position = 0

    init(prefix: [UInt8], fill: UInt8, fillCount: Int, suffix: [UInt8]) {
        self.prefix = prefix
        self.fill = fill
        self.fillCount = fillCount
        self.suffix = suffix
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let total = prefix.count + fillCount + suffix.count
        var n = 0
        while n < buffer.count && position < total {
            let byte: UInt8
            if position < prefix.count {
                byte = prefix[position]
            } else if position < prefix.count + fillCount {
                byte = fill
            } else {
                byte = suffix[position - prefix.count - fillCount]
            }
            buffer[n] = byte
            n += 1
            position += 1
        }
        return n
    }

    func close() {}
}

/// Collects what is written.
final class MemoryWriter: ObjectWriter {
    let uri = "memory://rejects.csv"
    var bytes: [UInt8] = []
    var finished = false
    var aborted = false

    func write(_ chunk: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: chunk) }

    func finish() throws -> StoredObject {
        finished = true
        return StoredObject(uri: uri, sizeBytes: Int64(bytes.count))
    }

    func abort() { aborted = true }

    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// A warehouse in memory that records inserted rows and refuses row keys it holds,
/// as the contract says. It can also refuse chosen lines, or fail.
final class MemoryWarehouse: Warehouse {
    struct State {
        var rows: [OrderRow] = []
        var keys: Set<RowKey> = []
        var batches: [Int] = []
        var refuseLines: Set<Int64> = []
        var failInsert = false
        /// Fails every insert after this many batches were stored.
        var failAfterBatches: Int?
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String { "connection refused" }
    }

    let state = Mutex(State())

    var rows: [OrderRow] { state.withLock { $0.rows } }
    var batches: [Int] { state.withLock { $0.batches } }

    func prepare() throws {}
    func checkReady() throws {}

    func insert(_ rows: [OrderRow], for upload: UploadContext) throws -> InsertResult {
        try state.withLock { state in
            if state.failInsert { throw Failure() }
            if let limit = state.failAfterBatches, state.batches.count >= limit { throw Failure() }
            state.batches.append(rows.count)
            var inserted = 0
            var present: [Int] = []
            var rejected: [RejectedRow] = []
            for (index, row) in rows.enumerated() {
                if state.refuseLines.contains(row.sourceLine) {
                    rejected.append(RejectedRow(line: row.sourceLine, reason: "invalid", message: "refused by warehouse"))
                } else if state.keys.contains(row.rowKey) {
                    present.append(index)
                } else {
                    state.keys.insert(row.rowKey)
                    state.rows.append(row)
                    inserted += 1
                }
            }
            return InsertResult(inserted: inserted, alreadyPresent: present, rejected: rejected)
        }
    }

    func saveUpload(_ record: UploadRecord) throws {}
    func upload(id: String) throws -> UploadRecord? { nil }
    func recentUploads(limit: Int, regions: [String]?) throws -> [UploadRecord] { [] }
    func uploads(region: String) throws -> [UploadRecord] { [] }
    func uploads(status: UploadStatus) throws -> [UploadRecord] { [] }
    func removeRows(ofUpload id: String, batchRows: Int, progress: (Int) -> Void) throws -> Int { 0 }
    func recordAudit(_ event: AuditEvent) throws {}
    func auditEvents(_ query: AuditQuery) throws -> [AuditEvent] { [] }
    func loadedUpload(region: String, sha256: String) throws -> UploadRecord? { nil }
    func unfinishedUploads() throws -> [UploadRecord] { [] }
    func summary(_ filter: ReportFilter) throws -> ReportSummary {
        ReportSummary(revenue: .zero, orders: 0, cancellations: 0, units: 0, customers: 0)
    }
}

/// The outcome of a load in memory.
struct LoadOutcome {
    var result: Result<LoadReport, ETLError>
    var warehouse: MemoryWarehouse
    var rejects: MemoryWriter?
    var progress: [LoadProgress]

    var report: LoadReport? { try? result.get() }
    var error: ETLError? {
        if case .failure(let error) = result { return error }
        return nil
    }
}

let header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"

func region(_ code: String = "UK", order: DateOrder = .mdy) -> RegionRules {
    RegionRules(code: code, aliases: [], dateOrder: order, currency: "GBP")
}

func runLoad(
    _ bytes: [UInt8], region rules: RegionRules = region(), encoding: TextEncoding = .utf8,
    settings: ETLSettings = ETLSettings(), chunk: Int = 1 << 16, warehouse: MemoryWarehouse = MemoryWarehouse(),
    reader: (any ObjectReader)? = nil, dialect: CSVDialect? = nil
) -> LoadOutcome {
    let context = UploadContext(
        uploadID: "u1", region: rules.code, currency: rules.currency, sourceURI: "memory://raw.csv", loadedAtMicros: 0)
    var job = LoadJob(settings: settings, region: rules, encoding: encoding, context: context)
    job.dialect = dialect
    var writer: MemoryWriter?
    var progress: [LoadProgress] = []
    let result = Result { () throws(ETLError) -> LoadReport in
        try job.run(
            source: reader ?? MemoryReader(bytes, chunk: chunk), warehouse: warehouse,
            makeRejectsWriter: {
                precondition(writer == nil, "makeRejectsWriter called twice")
                writer = MemoryWriter()
                return writer!
            },
            progress: { progress.append($0) })
    }
    return LoadOutcome(result: result, warehouse: warehouse, rejects: writer, progress: progress)
}

func runLoad(
    _ text: String, region rules: RegionRules = region(), settings: ETLSettings = ETLSettings(),
    warehouse: MemoryWarehouse = MemoryWarehouse()
) -> LoadOutcome {
    runLoad(Array(text.utf8), region: rules, settings: settings, warehouse: warehouse)
}

/// A fixture's bytes.
func fixture(_ name: String) throws -> [UInt8] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
    return Array(try Data(contentsOf: url))
}

func decimal(_ text: String) -> ExactDecimal { ExactDecimal(parsing: text)! }
