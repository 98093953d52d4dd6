// A load that looks and stores nothing: what a file would give, before it is uploaded for real.

import Synchronization

/// Takes a load's batches without storing them: every row the load hands over counts as one it
/// would store, and the first `sampleSize` are kept to show. Rows that repeat rows stored by
/// other uploads cannot be told here (nothing is asked of the warehouse); repeats within the
/// file are found by the load itself within its dedupe window (`ETLSettings.dedupeWindowRows`,
/// 100,000 rows by default). Repeats further apart, which a warehouse counts when it meets their
/// row key again, count here as rows it would store.
public final class DryRunSink: RowSink {
    /// How many rows are kept to show.
    public let sampleSize: Int
    private let kept = Mutex<[OrderRow]>([])

    public init(sampleSize: Int = 20) { self.sampleSize = max(0, sampleSize) }

    public func insert(_ rows: [OrderRow], for upload: UploadContext) throws -> InsertResult {
        kept.withLock { kept in
            if kept.count < sampleSize { kept.append(contentsOf: rows.prefix(sampleSize - kept.count)) }
        }
        return InsertResult(inserted: rows.count, alreadyPresent: [], rejected: [])
    }

    /// The first rows the load would store, in file order.
    public var sample: [OrderRow] { kept.withLock { $0 } }
}

/// A rejects file that is never written: a dry run reports its first rejected lines only.
public final class DiscardedObjectWriter: ObjectWriter {
    public let uri = ""
    public private(set) var bytesDiscarded = 0

    public init() {}

    public func write(_ bytes: UnsafeRawBufferPointer) throws { bytesDiscarded += bytes.count }
    public func finish() throws -> StoredObject { StoredObject(uri: "", sizeBytes: Int64(bytesDiscarded)) }
    public func abort() {}
}
