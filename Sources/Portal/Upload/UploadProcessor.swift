import CSystemLinux
import ETL
import Glibc
import Support
import Synchronization

/// What happened to one file: its record (when it got one) and how long each step took.
struct UploadOutcome: Sendable {
    var fileName: String
    /// nil when the file was refused before anything was stored (unknown region, empty file).
    var record: UploadRecord?
    var errorCode: String?
    var errorMessage: String?
    /// True when storage or the warehouse failed (the client may retry), not the file.
    var serverFailure = false
    /// True when the same content was already being loaded: `record` is that upload's.
    var inProgressElsewhere = false
    var storeMillis: Double = 0
    var loadMillis: Double = 0

    /// True when the file was processed: loaded, or recognised as already loaded.
    var succeeded: Bool {
        guard let status = record?.status else { return false }
        return status == .loaded || status == .alreadyLoaded || inProgressElsewhere
    }

    /// True when the server, not the file, is to blame.
    var failedOnTheServer: Bool { serverFailure || record?.status == .failed }
}

/// The pipeline of one file, the same for HTTP uploads, `ingest` and resumed loads:
/// region → already loaded? → store the raw file → record it → load its rows → record the result.
final class UploadProcessor: Sendable {
    let config: PortalConfig
    let store: any ObjectStore
    let warehouse: any ReportingWarehouse
    let regions: RegionResolver
    /// Folder of files in flight, on the object store's file system when it is local.
    let spoolDirectory: String
    /// Held while an upload is retracted: retractions run one at a time.
    let retractions = Mutex<Void>(())
    /// Keeps the loads of a region apart from its retractions.
    let regionGate = RegionGate()

    init(config: PortalConfig, store: any ObjectStore, warehouse: any ReportingWarehouse, spoolDirectory: String) {
        self.config = config
        self.store = store
        self.warehouse = warehouse
        self.regions = RegionResolver(regions: config.regions)
        self.spoolDirectory = spoolDirectory
    }

    /// The region code a file would be loaded for (from the form's region, else its name); nil when unknown.
    func regionCode(of file: ReceivedFile, explicitRegion: String?) -> String? {
        let regionName = explicitRegion.map { $0.trimmingSpaces() }.flatMap { $0.isEmpty ? nil : $0 }
        return (regionName.map { regions.region(named: $0) } ?? regions.region(forFileName: file.fileName))?.code
    }

    /// Drops a spooled file that will not be processed.
    func discard(_ file: ReceivedFile) { removeSpool(file.content) }

    /// Processes one spooled file for `uploader` (a user name, `anonymous` without access control)
    /// at `address`, brought by the request `requestID`, read in `dialect` (nil: told from its
    /// header line). Never throws: every failure becomes an outcome with a reason.
    func process(_ file: ReceivedFile, explicitRegion: String?, uploader: String = "anonymous", address: String = "",
                 requestID: String? = nil, dialect: CSVDialect? = nil) -> UploadOutcome {
        var outcome = UploadOutcome(fileName: file.fileName)
        let content = file.content
        let resolved = resolveRegion(of: file, explicitRegion: explicitRegion)
        if let (code, message) = refusalBeforeReading(file, resolved) {
            removeSpool(content)
            return refusedBeforeStoring(file, region: resolved.code,
                                        currency: resolved.region?.currency ?? "", code: code, message: message,
                                        uploader: uploader, address: address, requestID: requestID)
        }
        guard let region = resolved.region else { return outcome }
        do {
            // Apart from retractions of the region: what is checked here stays true until the load ends.
            outcome = try regionGate.load(region.code) { () throws -> UploadOutcome in
                var outcome = outcome
                // The same bytes sent again while their first upload is still loading (a resend after a
                // timeout, or during a restart's resume): no second copy, no second record.
                if let running = try warehouse.uploadInProgress(region: region.code, sha256: content.sha256) {
                    removeSpool(content)
                    outcome.record = running
                    outcome.inProgressElsewhere = true
                    outcome.errorMessage = "the same file is being loaded for \(region.code) as upload \(running.id); nothing was stored twice: follow it at /api/uploads/\(running.id)"
                    return outcome
                }
                if let earlier = try warehouse.loadedUpload(region: region.code, sha256: content.sha256) {
                    removeSpool(content)
                    var record = alreadyLoadedRecord(
                        fileName: file.fileName, sha256: content.sha256, size: content.size, region: region, earlier: earlier)
                    record.user = uploader
                    record.clientAddress = address
                    record.requestID = requestID
                    try warehouse.saveUpload(record)
                    outcome.record = record
                    return outcome
                }
                let storeStart = Clock.nanoseconds()
                let now = Clock.nowMicros()
                let uploadID = UploadID.make()
                let name = ObjectNaming.rawFile(region: region.code, uploadID: uploadID, fileName: file.fileName, atMicros: now)
                let handedOver = try store.store(localFile: content.path, name: name, contentType: "text/csv")
                let stored = handedOver.object
                // A remote store's copy is not read back: the load reads the spool just sent, then drops it.
                let keptSpool = handedOver.localFileRemains ? content.path : nil
                defer { if let keptSpool { unlink(keptSpool) } }
                var record = UploadRecord(
                    id: uploadID, region: region.code, fileName: file.fileName, objectURI: stored.uri,
                    sha256: content.sha256, sizeBytes: stored.sizeBytes, encoding: content.encoding.rawValue,
                    status: .stored, currency: region.currency, createdAtMicros: now, updatedAtMicros: now,
                    user: uploader, clientAddress: address)
                record.requestID = requestID
                try warehouse.saveUpload(record)
                outcome.storeMillis = Self.millis(since: storeStart)
                let loadStart = Clock.nanoseconds()
                record = load(record, localCopy: keptSpool, dialect: dialect)
                outcome.loadMillis = Self.millis(since: loadStart)
                outcome.record = record
                return outcome
            }
        } catch {
            removeSpool(content)
            outcome.errorCode = (error as? PortalError)?.code ?? "failed"
            outcome.errorMessage = "\(error)"
            outcome.serverFailure = (error as? PortalError)?.isServerFailure ?? true
        }
        return outcome
    }

    /// Loads the rows of a stored upload and records the result; used for new uploads and,
    /// with `resuming`, to finish a load that an earlier run left unfinished.
    /// `localCopy`: a local file with the same bytes as the stored object (a fresh upload's spool),
    /// read instead of the object.
    func load(_ stored: UploadRecord, resuming: Bool = false, localCopy: String? = nil, dialect: CSVDialect? = nil) -> UploadRecord {
        var record = stored
        guard let region = regions.region(named: record.region) else {
            record.status = .failed
            record.errorCode = "unknown_region"
            record.errorMessage = "region \(record.region) is no longer configured"
            try? warehouse.saveUpload(record)
            return record
        }
        record.status = .loading
        record.updatedAtMicros = Clock.nowMicros()
        try? warehouse.saveUpload(record)

        let context = UploadContext(
            uploadID: record.id, region: region.code, currency: region.currency,
            sourceURI: record.objectURI, loadedAtMicros: Clock.nowMicros(), resuming: resuming)
        var job = LoadJob(
            settings: config.etlSettings, region: config.regionRules(region),
            encoding: TextEncoding(rawValue: record.encoding) ?? .utf8, context: context)
        job.dialect = dialect
        // Objects are never overwritten: a resumed load writes its rejected lines under a name of its own.
        let rejectsName = ObjectNaming.rejects(
            region: region.code, uploadID: record.id, atMicros: record.createdAtMicros,
            attempt: resuming ? UploadID.make() : nil)
        var lastProgressSave = Clock.nanoseconds()
        do {
            let stored = try localCopy.map { path throws -> any ObjectReader in
                let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw PortalError.storage("cannot open the spool of \(record.id): \(FileSystem.lastError())") }
                return LocalObjectReader(fd: fd)
            } ?? store.open(uri: record.objectURI)
            // A gzip file is read decompressed as it streams.
            let source = DecompressingReader(stored, maxBytes: config.server.limits.maxUploadBytes)
            defer { source.close() }
            let report = try job.run(
                source: source, warehouse: warehouse,
                makeRejectsWriter: { [store] in try store.create(name: rejectsName, contentType: "text/csv") },
                progress: { progress in
                    let now = Clock.nanoseconds()
                    guard now - lastProgressSave > 500_000_000 else { return }
                    lastProgressSave = now
                    record.bytesProcessed = source.isGzip ? source.storedBytesRead : progress.bytesRead
                    record.rows.read = progress.rowsRead
                    record.updatedAtMicros = Clock.nowMicros()
                    try? warehouse.saveUpload(record)
                })
            record.status = .loaded
            record.errorCode = nil
            record.errorMessage = nil
            record.rows = report.rows
            record.revenue = report.revenue
            record.firstRejects = report.firstRejects
            record.extraColumns = report.extraColumns
            record.dialect = report.dialect
            record.rejectsURI = report.rejectsObject?.uri
            record.bytesProcessed = record.sizeBytes
        } catch let error as ETLError {
            // A file that is not text has no text encoding: say so, not the encoding tried last.
            if case .notCSV = error { record.encoding = "binary" }
            record.status = Self.isFileProblem(error) ? .rejected : .failed
            record.errorCode = error.code
            record.errorMessage = error.message
        } catch {
            record.status = .failed
            record.errorCode = (error as? PortalError)?.code ?? "failed"
            record.errorMessage = "\(error)"
        }
        record.updatedAtMicros = Clock.nowMicros()
        // A load's batches and buffers are freed now: give the memory back instead of keeping it.
        _ = cn_malloc_trim()
        do { try warehouse.saveUpload(record) } catch {
            // The load finished but its record did not: leave it unfinished so a restart reloads it (idempotent).
            record.status = .failed
            record.errorCode = "warehouse_failed"
            record.errorMessage = "the rows were loaded but the upload record could not be saved: \(error)"
        }
        return record
    }

    /// Finishes the loads that a stopped process left unfinished.
    func resumeUnfinished(log: (String) -> Void) {
        resume(unfinishedUploads(log: log), log: log)
    }

    /// The loads a stopped process left unfinished (taken before new uploads can start).
    func unfinishedUploads(log: (String) -> Void) -> [UploadRecord] {
        do { return try warehouse.unfinishedUploads() } catch {
            log("cannot list unfinished uploads: \(error)")
            return []
        }
    }

    /// Loads each of `unfinished` again from its stored raw file (or finishes its retraction).
    func resume(_ unfinished: [UploadRecord], log: (String) -> Void) {
        for record in unfinished {
            if record.status == .retracting {
                log("resuming retraction of upload \(record.id) (\(record.fileName), \(record.region))")
                do {
                    let result = try retractions.withLock { _ in try regionGate.retract(record.region) { try finishRetraction(record) } }
                    log("upload \(result.id): \(result.status.rawValue)")
                } catch {
                    log("upload \(record.id): retraction failed again (\(error)); it is resumed on the next start")
                }
                continue
            }
            regionGate.load(record.region) {
                // Requests are served meanwhile: the upload may have been retracted since the list was read.
                let current: UploadRecord
                do { current = try warehouse.upload(id: record.id) ?? record } catch {
                    log("upload \(record.id): cannot read its record (\(error)); it is resumed on the next start")
                    return
                }
                guard [.stored, .loading, .failed].contains(current.status) else {
                    log("upload \(record.id) is \(current.status.rawValue) now: not resumed")
                    return
                }
                log("resuming load of upload \(current.id) (\(current.fileName), \(current.region))")
                let result = load(current, resuming: true)
                log("upload \(result.id): \(result.status.rawValue), \(result.rows.loaded) rows loaded")
            }
        }
    }

    // MARK: - Steps

    /// The record of a file whose content `earlier` loaded for the same region.
    func alreadyLoadedRecord(fileName: String, sha256: String, size: Int64, region: RegionConfig, earlier: UploadRecord) -> UploadRecord {
        let now = Clock.nowMicros()
        return UploadRecord(
            id: UploadID.make(), region: region.code, fileName: fileName, objectURI: earlier.objectURI,
            sha256: sha256, sizeBytes: size, encoding: earlier.encoding,
            // Nothing new: the lines loaded before are duplicates now; those rejected before are rejected again.
            status: .alreadyLoaded,
            rows: RowCounts(
                read: earlier.rows.read, loaded: 0, rejected: earlier.rows.rejected,
                duplicates: earlier.rows.loaded + earlier.rows.duplicates),
            currency: earlier.currency,
            errorCode: nil,
            errorMessage: "the same file was loaded for \(region.code) as upload \(earlier.id) at \(Clock.isoTimestamp(micros: earlier.createdAtMicros)); nothing new was loaded",
            bytesProcessed: size, createdAtMicros: now, updatedAtMicros: now)
    }

    private func removeSpool(_ content: SpooledContent) { unlink(content.path) }

    /// The region a file goes to: the one named (form field), else the one its name tells; and
    /// the name given (trimmed), if any.
    func resolveRegion(of file: ReceivedFile, explicitRegion: String?) -> ResolvedRegion {
        let regionName = explicitRegion.map { $0.trimmingSpaces() }.flatMap { $0.isEmpty ? nil : $0 }
        return ResolvedRegion(region: regionName.map { regions.region(named: $0) } ?? regions.region(forFileName: file.fileName),
                              named: regionName)
    }

    /// Why a file is refused before any row is read (empty, no known region, a gzip file cut
    /// short), as (code, message); nil when it can be read.
    func refusalBeforeReading(_ file: ReceivedFile, _ resolved: ResolvedRegion) -> (code: String, message: String)? {
        guard file.content.size > 0 else { return ("empty_file", "the file \"\(file.fileName)\" is empty") }
        guard resolved.region != nil else {
            let known = config.regions.map(\.code).joined(separator: ", ")
            let message = resolved.named.map { "unknown region \"\($0)\"; known regions: \(known)" }
                ?? "cannot tell the region from the file name \"\(file.fileName)\"; name the file after a region (\(known)) or give its region"
            return ("unknown_region", message)
        }
        guard file.content.gzipComplete else {
            return ("bad_gzip", "the gzip file \"\(file.fileName)\" is cut short: send it again whole")
        }
        return nil
    }

    /// The outcome of a file refused before anything was stored (empty, no known region): it is
    /// recorded `rejected`, with no object, so that the history lists every file answered about.
    /// When the record cannot be saved the answer still says why the file was refused.
    private func refusedBeforeStoring(_ file: ReceivedFile, region: String, currency: String, code: String, message: String,
                                      uploader: String, address: String, requestID: String?) -> UploadOutcome {
        var outcome = UploadOutcome(fileName: file.fileName)
        outcome.errorCode = code
        outcome.errorMessage = message
        let now = Clock.nowMicros()
        var record = UploadRecord(
            id: UploadID.make(), region: region, fileName: file.fileName, objectURI: "", sha256: file.content.sha256,
            sizeBytes: file.content.size, encoding: file.content.encoding.rawValue, status: .rejected, currency: currency,
            errorCode: code, errorMessage: message, createdAtMicros: now, updatedAtMicros: now,
            user: uploader, clientAddress: address)
        record.requestID = requestID
        if (try? warehouse.saveUpload(record)) != nil { outcome.record = record }
        return outcome
    }

    /// Whole-file problems of the content itself (as opposed to a failing store or warehouse).
    static func isFileProblem(_ error: ETLError) -> Bool {
        switch error {
        case .readFailed, .warehouseFailed, .rejectsFailed: false
        default: true
        }
    }

    static func millis(since start: UInt64) -> Double {
        Double(Clock.nanoseconds() - start) / 1_000_000
    }
}

/// The region of a file: the configured one it goes to (nil: none), and the name given for it.
struct ResolvedRegion {
    var region: RegionConfig?
    var named: String?
    /// The region code to record: the configured one's, else the name given in upper case.
    var code: String { region?.code ?? named?.uppercased() ?? "" }
}
