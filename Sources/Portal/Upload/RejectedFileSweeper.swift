import ETL
import Foundation
import Support

/// Keeps a flood of junk from filling the disk or the bucket: the raw file of an upload rejected
/// as a whole is deleted once it is older than `storage.rejectedFileRetentionDays`; its record
/// stays and says when the file went (`raw_file_removed_at`).
extension UploadProcessor {
    /// Deletes the raw files of rejected uploads created before `cutoffMicros`; returns how many.
    @discardableResult
    func sweepRejectedFiles(createdBefore cutoffMicros: Int64, log: (String) -> Void) -> Int {
        let rejected: [UploadRecord]
        do { rejected = try warehouse.uploads(status: .rejected) } catch {
            log("cannot list rejected uploads: \(error)")
            return 0
        }
        var removed = 0
        for var record in rejected where record.rawFileRemovedAtMicros == nil && record.createdAtMicros < cutoffMicros
            && !record.objectURI.isEmpty {
            do {
                try store.delete(uri: record.objectURI)
                record.rawFileRemovedAtMicros = Clock.nowMicros()
                try warehouse.saveUpload(record)
                removed += 1
            } catch {
                log("cannot remove the raw file of rejected upload \(record.id): \(error)")
            }
        }
        if removed > 0 { log("removed the raw files of \(removed) rejected upload(s)") }
        return removed
    }

    /// Sweeps now and then every `storage.retentionSweepSeconds`, on a thread of its own.
    func startRejectedFileSweeper(log: @escaping @Sendable (String) -> Void) {
        let retentionMicros = Int64(config.storage.rejectedFileRetentionDays) * 86_400_000_000
        let interval = Double(config.storage.retentionSweepSeconds)
        PThread.detach { [self] in
            while true {
                sweepRejectedFiles(createdBefore: Clock.nowMicros() - retentionMicros, log: log)
                PThread.sleep(seconds: interval)
            }
        }
    }
}
