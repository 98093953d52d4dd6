import ETL
import Glibc
import Support

/// Taking an upload back: its rows leave every report, its record says who and when, and the
/// raw file stays. Rows that other live uploads of the region had skipped as duplicates of the
/// retracted one come back through those uploads, so every total is exactly that of the live
/// uploads. Crash-safe: the record says `retracting` first, and an unfinished retraction is
/// finished on the next start like an unfinished load.
extension UploadProcessor {
    /// Why an upload cannot be retracted now.
    enum RetractionRefusal: Error, Equatable {
        /// Its rows are still arriving; retract it once the load is over.
        case stillLoading(UploadStatus)

        /// Refuses an upload whose rows are still arriving.
        static func check(_ record: UploadRecord) throws(RetractionRefusal) {
            switch record.status {
            case .receiving, .stored, .loading: throw .stillLoading(record.status)
            case .retracted, .retracting, .loaded, .alreadyLoaded, .rejected, .failed: break
            }
        }
    }

    /// Rows deleted per transaction: small enough that loads and reports go on between batches.
    static let retractionBatchRows = 20_000

    /// Retracts an upload for `user`; returns its final record. An already retracted upload
    /// is returned as it is. `started` is called once, when the upload becomes `retracting`
    /// (not for a request that finds it so already). Retractions run one at a time, so a
    /// second request for the same upload waits for the first and finds it retracted.
    /// No load of the region runs meanwhile (`RegionGate`).
    func retract(_ upload: UploadRecord, by user: String, started: () -> Void = {}) throws -> UploadRecord {
        try retractions.withLock { _ in
            // An upload still loading is refused at once, not after waiting for its load.
            try RetractionRefusal.check(try warehouse.upload(id: upload.id) ?? upload)
            return try regionGate.retract(upload.region) {
                // The record as it is now, not as the caller read it before waiting.
                let current = try warehouse.upload(id: upload.id) ?? upload
                return try retractLocked(current, by: user, started: started)
            }
        }
    }

    private func retractLocked(_ stored: UploadRecord, by user: String, started: () -> Void) throws -> UploadRecord {
        if stored.status == .retracted { return stored }
        try RetractionRefusal.check(stored)
        var record = stored
        if record.status != .retracting {
            let now = Clock.nowMicros()
            record.status = .retracting
            record.retractedBy = user
            record.retractedAtMicros = now
            record.updatedAtMicros = now
            try warehouse.saveUpload(record)
            started()
        }
        return try finishRetraction(record)
    }

    /// Removes the rows of a `retracting` upload, brings back what other uploads skipped because
    /// of it, and marks it `retracted`. Safe to run again after an interruption. The caller holds
    /// the region exclusively.
    func finishRetraction(_ retracting: UploadRecord) throws -> UploadRecord {
        var record = retracting
        let removed = try warehouse.removeRows(ofUpload: record.id, batchRows: Self.retractionBatchRows) { _ in }
        // Nothing to bring back when the upload held no rows (rejected, already loaded), or when
        // loads never skip stored rows (the reports dedupe instead).
        if warehouse.loadsSkipStoredRows && (removed > 0 || record.rows.loaded > 0) {
            try reinstateDuplicates(region: record.region, except: record.id)
        }
        record.status = .retracted
        record.updatedAtMicros = Clock.nowMicros()
        try warehouse.saveUpload(record)
        return record
    }

    /// Loads again, from their raw files, the live uploads of `region` that skipped rows as
    /// duplicates: a row whose only stored copy was the retracted upload's is stored again for
    /// them (the warehouse skips every row it still has). Their records are left as they were.
    private func reinstateDuplicates(region regionCode: String, except retractedID: String) throws {
        guard let region = regions.region(named: regionCode) else { return }
        for live in try warehouse.uploads(region: regionCode)
        where live.id != retractedID && live.rows.duplicates > 0 && (live.status == .loaded || live.status == .alreadyLoaded) {
            let context = UploadContext(uploadID: live.id, region: region.code, currency: region.currency,
                                        sourceURI: live.objectURI, loadedAtMicros: Clock.nowMicros())
            let job = LoadJob(settings: config.etlSettings, region: config.regionRules(region),
                              encoding: TextEncoding(rawValue: live.encoding) ?? .utf8, context: context)
            let source = try store.open(uri: live.objectURI)
            defer { source.close() }
            do {
                _ = try job.run(source: source, warehouse: warehouse, makeRejectsWriter: { DiscardingWriter() }, progress: { _ in })
            } catch {
                throw PortalError.warehouse("cannot bring back the rows of upload \(live.id): \(error)")
            }
        }
    }
}

/// Rejected lines of a reinstating load: already written once, by the upload's own load.
private final class DiscardingWriter: ObjectWriter {
    let uri = ""
    func write(_ bytes: UnsafeRawBufferPointer) throws {}
    func finish() throws -> StoredObject { StoredObject(uri: "", sizeBytes: 0) }
    func abort() {}
}
