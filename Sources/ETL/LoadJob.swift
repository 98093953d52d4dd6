// Reads a stored raw file to its end and loads its rows into a warehouse in batches.

/// How far a load has come.
public struct LoadProgress: Sendable, Equatable {
    /// Bytes of the raw file read so far.
    public var bytesRead: Int64
    /// Data records read so far (rows of every outcome).
    public var rowsRead: Int

    /// Progress after `bytesRead` bytes and `rowsRead` records.
    public init(bytesRead: Int64, rowsRead: Int) {
        self.bytesRead = bytesRead
        self.rowsRead = rowsRead
    }
}

/// The outcome of a load that ran to the end of the file.
public struct LoadReport: Sendable, Equatable {
    /// `read == loaded + rejected + duplicates`.
    public var rows: RowCounts
    /// Sum of revenue over the loaded product lines, cancellations included (net).
    public var revenue: ExactDecimal
    /// The first rejected lines (ETL and warehouse rejects, in the order found).
    public var firstRejects: [RejectedRow]
    /// Header columns that are not part of the table, as written.
    public var extraColumns: [String]
    /// Lines written to the rejects CSV.
    public var rejectsWritten: Int
    /// The rejects CSV, when any line was rejected.
    public var rejectsObject: StoredObject?
    /// How the file's fields were read.
    public var dialect: CSVDialect

    /// A report with every field given.
    public init(
        rows: RowCounts, revenue: ExactDecimal, firstRejects: [RejectedRow], extraColumns: [String],
        rejectsWritten: Int, rejectsObject: StoredObject?, dialect: CSVDialect = .standard
    ) {
        self.dialect = dialect
        self.rows = rows
        self.revenue = revenue
        self.firstRejects = firstRejects
        self.extraColumns = extraColumns
        self.rejectsWritten = rejectsWritten
        self.rejectsObject = rejectsObject
    }
}

/// One load of one stored file: CSV reading, cleaning, de-duplication, batching.
///
/// The file's header must name all eight columns (see `HeaderMap`); a file that lacks one,
/// is empty, has no data rows, is not text, or has a header longer than the record limit is
/// refused with an `ETLError` before anything is loaded. Each data record then becomes a
/// loaded row, a rejected line (with its line number and reason), or a duplicate:
/// - exact duplicates (same row key: same region and normalized fields) among the last
///   `dedupeWindowRows` rows are dropped, and rows the warehouse already holds from another
///   upload or line (`InsertResult.alreadyPresent`) are counted as duplicates too;
/// - `read == loaded + rejected + duplicates`.
public struct LoadJob: Sendable {
    /// Limits and rules of the load.
    public var settings: ETLSettings
    /// The region the file belongs to: its code goes into row keys, its date order is used.
    public var region: RegionRules
    /// How the stored file's bytes are decoded.
    public var encoding: TextEncoding
    /// The upload the rows belong to, handed to the warehouse with every batch.
    public var context: UploadContext
    /// How the file's fields are written; nil: told from its header line (`CSVDialect.sniff`).
    public var dialect: CSVDialect?

    /// A load of one stored file.
    public init(settings: ETLSettings, region: RegionRules, encoding: TextEncoding, context: UploadContext) {
        self.settings = settings
        self.region = region
        self.encoding = encoding
        self.context = context
    }

    /// Reads the stored raw file to its end, loads its rows in batches, and writes rejected lines
    /// (the original fields plus an `error` column, RFC 4180 quoted) to the writer made by
    /// `makeRejectsWriter` — called at most once, on the first rejected line. The rejects
    /// object is finished when the load succeeds and aborted when it throws. `progress` is
    /// called after each batch. The caller closes `source`. Blocks: run it on a worker thread.
    public func run(
        source: any ObjectReader, warehouse: any RowSink,
        makeRejectsWriter: () throws -> any ObjectWriter,
        progress: (LoadProgress) -> Void
    ) throws(ETLError) -> LoadReport {
        let load = LoadRun(job: self, warehouse: warehouse)
        // The insert thread finishes the batch it holds before the load returns, whatever happens.
        defer { load.inserter?.close() }
        do {
            return try load.execute(source: source, makeRejectsWriter: makeRejectsWriter, progress: progress)
        } catch {
            load.inserter?.close()
            load.rejects?.abort()
            throw error
        }
    }
}

/// The mutable state of one `LoadJob.run`.
private final class LoadRun {
    let job: LoadJob
    let warehouse: any RowSink
    var reader: CSVReader
    /// The dialect the reader was made for, once the header line was seen.
    var dialect: CSVDialect?
    /// The first bytes of the file, until its header line is complete.
    var head: [UInt8] = []
    var header: HeaderMap?
    var transformer: RowTransformer?
    var window: RowKeyWindow
    var batch: [OrderRow] = []
    var batchFields = BatchFields()
    /// Stores batches on its own thread once the file has more than one batch.
    var inserter: BatchInserter?
    /// Prepares each batch for `inserter` while the one before is stored.
    var preparer: (any BatchPreparer)?
    /// The batch being stored by `inserter`, kept for accounting when its result comes back.
    var storingBatch: [OrderRow] = []
    var storingFields = BatchFields()
    var counts = RowCounts()
    var revenueMicros: Int128 = 0
    var bytesRead: Int64 = 0
    var firstRejects: [RejectedRow] = []
    var rejects: RejectsWriter?

    init(job: LoadJob, warehouse: any RowSink) {
        self.job = job
        self.warehouse = warehouse
        reader = CSVReader(maxRecordBytes: job.settings.maxRecordBytes)
        window = RowKeyWindow(capacity: job.settings.dedupeWindowRows)
        batch.reserveCapacity(job.settings.batchSize)
    }

    func execute(
        source: any ObjectReader, makeRejectsWriter: () throws -> any ObjectWriter,
        progress: (LoadProgress) -> Void
    ) throws(ETLError) -> LoadReport {
        let chunkSize = job.settings.readChunkBytes
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        let handle = { (event: CSVEvent) throws(ETLError) in
            try self.handle(event, makeRejectsWriter: makeRejectsWriter, progress: progress)
        }
        while true {
            let count: Int
            do {
                count = try source.read(into: buffer)
            } catch {
                throw .readFailed(Self.describe(error))
            }
            if count == 0 { break }
            bytesRead += Int64(count)
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            if header == nil { try Self.refuseBinary(chunk) }
            if dialect == nil {
                // The dialect is told from the whole header line: gather the bytes up to its end.
                head.append(contentsOf: chunk)
                guard head.contains(UInt8(ascii: "\n")) || head.count >= job.settings.maxRecordBytes else { continue }
                try feedHead(handle)
            } else {
                try reader.feed(chunk, handle)
            }
        }
        if dialect == nil { try feedHead(handle) }
        try reader.finish(handle)
        guard let header else { throw .emptyFile }
        guard counts.read > 0 else { throw .noDataRows }
        try flushBatch(makeRejectsWriter: makeRejectsWriter, isLast: true)
        progress(LoadProgress(bytesRead: bytesRead, rowsRead: counts.read))

        var stored: StoredObject?
        if let rejects {
            do {
                stored = try rejects.finish()
            } catch {
                throw .rejectsFailed(Self.describe(error))
            }
        }
        guard let revenue = Int64(exactly: revenueMicros) else { throw .totalOutOfRange }
        return LoadReport(
            rows: counts, revenue: ExactDecimal(micros: revenue), firstRejects: firstRejects,
            extraColumns: header.extraColumns, rejectsWritten: rejects?.rowsWritten ?? 0, rejectsObject: stored,
            dialect: dialect ?? .standard)
    }

    /// Makes the reader for the job's dialect, or for the one the header line in `head` shows,
    /// and reads `head` with it.
    private func feedHead(_ handle: (CSVEvent) throws(ETLError) -> Void) throws(ETLError) {
        let bytes = head
        head = []
        let chosen = bytes.withUnsafeBytes { start in
            job.dialect ?? CSVDialect.sniff(start, encoding: job.encoding, maxRecordBytes: job.settings.maxRecordBytes)
        }
        dialect = chosen
        if chosen.delimiter != reader.delimiter {
            reader = CSVReader(maxRecordBytes: job.settings.maxRecordBytes, delimiter: chosen.delimiter)
        }
        var failure: ETLError?
        bytes.withUnsafeBytes { start in
            do throws(ETLError) { try reader.feed(start, handle) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    private func handle(
        _ event: CSVEvent, makeRejectsWriter: () throws -> any ObjectWriter, progress: (LoadProgress) -> Void
    ) throws(ETLError) {
        guard header != nil else {
            try readHeader(event)
            return
        }
        counts.read += 1
        switch event {
        case .recordTooLong(let line):
            let empty = [ArraySlice<UInt8>](repeating: [], count: header!.fieldCount)
            try reject(
                fields: empty, line: line, reason: "record_too_long",
                message: "the record is longer than \(job.settings.maxRecordBytes) bytes and was skipped",
                makeRejectsWriter: makeRejectsWriter)
        case .record(let record):
            switch transformer!.transform(record) {
            case .success(let row):
                if window.containsOrInsert(row.rowKey) {
                    counts.duplicates += 1
                    return
                }
                batch.append(row)
                batchFields.append(record)
                if batch.count >= job.settings.batchSize {
                    try flushBatch(makeRejectsWriter: makeRejectsWriter, isLast: false)
                    progress(LoadProgress(bytesRead: bytesRead, rowsRead: counts.read))
                }
            case .failure(let rejection):
                try reject(
                    fields: fieldsOf(record), line: record.line, reason: rejection.reason,
                    message: rejection.message, makeRejectsWriter: makeRejectsWriter)
            }
        }
    }

    private func readHeader(_ event: CSVEvent) throws(ETLError) {
        switch event {
        case .recordTooLong:
            throw .headerTooLong(limit: job.settings.maxRecordBytes)
        case .record(let record):
            let names = (0..<record.fieldCount).map { decode(record[$0]) }
            let header = try HeaderMap(names: names)
            self.header = header
            transformer = RowTransformer(
                header: header, region: job.region, encoding: job.encoding, settings: job.settings,
                decimalComma: dialect?.decimalComma ?? false)
        }
    }

    /// Hands the batch to the warehouse. A file of one batch is stored inline; a longer one
    /// through `inserter`, so the next batch is read while this one is stored: the result of
    /// the batch in flight is accounted for before the next is handed over, and the last
    /// flush waits for everything.
    private func flushBatch(makeRejectsWriter: () throws -> any ObjectWriter, isLast: Bool) throws(ETLError) {
        if inserter == nil && !isLast {
            inserter = BatchInserter(warehouse: warehouse, context: job.context)
            preparer = warehouse.makeBatchPreparer(for: job.context)
        }
        guard let inserter else {
            guard !batch.isEmpty else { return }
            let result: InsertResult
            do {
                result = try warehouse.insert(batch, for: job.context)
            } catch {
                throw .warehouseFailed(Self.describe(error))
            }
            try account(result, rows: batch, fields: batchFields, makeRejectsWriter: makeRejectsWriter)
            batch.removeAll(keepingCapacity: true)
            batchFields.removeAll()
            return
        }
        // Prepared here while the insert thread stores the batch before it.
        let prepared = batch.isEmpty ? nil : preparer?.prepare(batch)
        try collectStoring(from: inserter, makeRejectsWriter: makeRejectsWriter)
        guard !batch.isEmpty else { return }
        swap(&batch, &storingBatch)
        swap(&batchFields, &storingFields)
        inserter.submit(storingBatch, prepared: prepared)
        batch.removeAll(keepingCapacity: true)
        batchFields.removeAll()
        if isLast { try collectStoring(from: inserter, makeRejectsWriter: makeRejectsWriter) }
    }

    /// Waits for the batch in flight, if any, and accounts for what the warehouse did with it.
    private func collectStoring(from inserter: BatchInserter, makeRejectsWriter: () throws -> any ObjectWriter) throws(ETLError) {
        guard inserter.inFlight else { return }
        let result: InsertResult
        switch inserter.collect() {
        case .success(let stored): result = stored
        case .failure(let error): throw .warehouseFailed(Self.describe(error))
        }
        try account(result, rows: storingBatch, fields: storingFields, makeRejectsWriter: makeRejectsWriter)
        storingBatch.removeAll(keepingCapacity: true)
        storingFields.removeAll()
    }

    /// Counts what the warehouse did with a batch, adds its revenue, and records the rows it refused.
    private func account(
        _ result: InsertResult, rows batch: [OrderRow], fields batchFields: BatchFields,
        makeRejectsWriter: () throws -> any ObjectWriter
    ) throws(ETLError) {
        counts.loaded += result.inserted
        counts.duplicates += result.alreadyPresent.count
        counts.rejected += result.rejected.count

        var batchRevenue: Int128 = 0
        for row in batch where row.isProduct { batchRevenue += Int128(row.revenue.micros) }
        var notLoaded = Set(result.alreadyPresent)
        if !result.rejected.isEmpty {
            var indexByLine: [Int64: Int] = [:]
            for (index, row) in batch.enumerated() { indexByLine[row.sourceLine] = index }
            for rejected in result.rejected {
                let index = indexByLine[rejected.line]
                if let index { notLoaded.insert(index) }
                try record(
                    RejectedRow(line: rejected.line, reason: rejected.reason, message: rejected.message),
                    fields: index.map { batchFields.fields(of: $0) } ?? [],
                    makeRejectsWriter: makeRejectsWriter)
            }
        }
        for index in notLoaded where index >= 0 && index < batch.count && batch[index].isProduct {
            batchRevenue -= Int128(batch[index].revenue.micros)
        }
        revenueMicros += batchRevenue
    }

    private func reject(
        fields: [ArraySlice<UInt8>], line: Int64, reason: String, message: String,
        makeRejectsWriter: () throws -> any ObjectWriter
    ) throws(ETLError) {
        counts.rejected += 1
        try record(RejectedRow(line: line, reason: reason, message: message), fields: fields,
                   makeRejectsWriter: makeRejectsWriter)
    }

    /// Lists a rejected line in the report and writes it to the rejects CSV.
    private func record(
        _ rejected: RejectedRow, fields: [ArraySlice<UInt8>], makeRejectsWriter: () throws -> any ObjectWriter
    ) throws(ETLError) {
        if firstRejects.count < job.settings.maxRejectsReported { firstRejects.append(rejected) }
        do {
            if rejects == nil {
                rejects = try RejectsWriter(writer: makeRejectsWriter(), headerNames: header?.names ?? [])
            }
            try rejects!.write(fields: fields, line: rejected.line, reason: rejected.reason, message: rejected.message)
        } catch {
            throw .rejectsFailed(Self.describe(error))
        }
    }

    /// The fields of a record as UTF-8 bytes, for the rejects CSV.
    private func fieldsOf(_ record: CSVRecord) -> [ArraySlice<UInt8>] {
        (0..<record.fieldCount).map { index in
            let field = record[index]
            if job.encoding == .windows1252 && field.contains(where: { $0 >= 0x80 }) {
                return Array(Windows1252.string(field).utf8)[...]
            }
            return Array(field)[...]
        }
    }

    private func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        job.encoding == .windows1252 ? Windows1252.string(bytes) : String(decoding: bytes, as: UTF8.self)
    }

    /// NUL bytes before the header is read (text files never have them) mean binary data or
    /// UTF-16, not a CSV text file.
    private static func refuseBinary(_ chunk: UnsafeRawBufferPointer) throws(ETLError) {
        for byte in chunk {
            if byte == 0 {
                throw .notCSV("it contains NUL bytes (binary data, or UTF-16 text); save it as CSV (UTF-8)")
            }
        }
    }

    /// An error as a short sentence (bounded, so a huge error body cannot flood a report).
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }
}

/// The raw fields of the rows of a batch, kept so rows the warehouse refuses can be written
/// to the rejects CSV as they were in the file.
struct BatchFields {
    private var bytes: [UInt8] = []
    private var fieldEnds: [Int] = []
    private var rowFieldStart: [Int] = []

    mutating func append(_ record: CSVRecord) {
        rowFieldStart.append(fieldEnds.count)
        let base = bytes.count
        bytes.append(contentsOf: record.contentBytes)
        for index in 0..<record.fieldCount {
            let field = record[index]
            fieldEnds.append(base + (field.baseAddress! - record.contentBytes.baseAddress!) + field.count)
        }
    }

    func fields(of row: Int) -> [ArraySlice<UInt8>] {
        let first = rowFieldStart[row]
        let last = row + 1 < rowFieldStart.count ? rowFieldStart[row + 1] : fieldEnds.count
        var start = first == 0 ? 0 : fieldEnds[first - 1]
        var result: [ArraySlice<UInt8>] = []
        for k in first..<last {
            result.append(bytes[start..<fieldEnds[k]])
            start = fieldEnds[k]
        }
        return result
    }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        fieldEnds.removeAll(keepingCapacity: true)
        rowFieldStart.removeAll(keepingCapacity: true)
    }
}
