import ETL
import Glibc
import Support

/// What a file would give if it were uploaded (`POST /api/uploads?dry_run=1`): read, cleaned
/// and counted as a load would, with nothing stored and nothing recorded.
struct CheckedFile: Sendable {
    var fileName: String
    /// The region the file would load into, when one is known.
    var region: String?
    var currency: String = ""
    var sizeBytes: Int64
    var encoding: String
    var isGzip: Bool
    /// What the load would report (nil when the file is refused before reading rows).
    var report: LoadReport?
    /// The first rows as they would be stored.
    var sample: [OrderRow] = []
    var errorCode: String?
    var errorMessage: String?
    /// The server could not read the file (not the file's fault): `failed`, as an upload would be.
    var serverFailure = false
    /// Time spent reading and cleaning.
    var milliseconds: Double = 0
}

extension UploadProcessor {
    /// Rows a dry run shows.
    static let dryRunSampleRows = 20

    /// Reads `file` as an upload would, in `dialect` (nil: told from its header line), and says
    /// what it would give; removes the spool. Never throws: a refusal is an outcome with a reason.
    func check(_ file: ReceivedFile, explicitRegion: String?, dialect: CSVDialect? = nil) -> CheckedFile {
        let content = file.content
        defer { unlink(content.path) }
        var checked = CheckedFile(fileName: file.fileName, sizeBytes: content.size, encoding: content.encoding.rawValue,
                                  isGzip: content.isGzip)
        let resolved = resolveRegion(of: file, explicitRegion: explicitRegion)
        checked.region = resolved.code.isEmpty ? nil : resolved.code
        checked.currency = resolved.region?.currency ?? ""
        if let refusal = refusalBeforeReading(file, resolved) {
            (checked.errorCode, checked.errorMessage) = refusal
            return checked
        }
        guard let region = resolved.region else { return checked }
        let started = Clock.nanoseconds()
        let context = UploadContext(uploadID: "dry-run", region: region.code, currency: region.currency,
                                    sourceURI: "", loadedAtMicros: Clock.nowMicros(), resuming: false)
        var job = LoadJob(settings: config.etlSettings, region: config.regionRules(region),
                          encoding: content.encoding, context: context)
        job.dialect = dialect
        let sink = DryRunSink(sampleSize: Self.dryRunSampleRows)
        do {
            let fd = Glibc.open(content.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw PortalError.storage("cannot open the spool of \(file.fileName): \(FileSystem.lastError())") }
            let source = DecompressingReader(LocalObjectReader(fd: fd), maxBytes: config.server.limits.maxUploadBytes)
            defer { source.close() }
            checked.report = try job.run(source: source, warehouse: sink, makeRejectsWriter: { DiscardedObjectWriter() },
                                         progress: { _ in })
            checked.sample = sink.sample
        } catch let error as ETLError {
            if case .notCSV = error { checked.encoding = "binary" }
            checked.errorCode = error.code
            checked.errorMessage = error.message
            checked.serverFailure = !Self.isFileProblem(error)
        } catch {
            checked.errorCode = (error as? PortalError)?.code ?? "failed"
            checked.errorMessage = "\(error)"
            checked.serverFailure = (error as? PortalError)?.isServerFailure ?? true
        }
        checked.milliseconds = Double(Clock.nanoseconds() - started) / 1e6
        return checked
    }
}
