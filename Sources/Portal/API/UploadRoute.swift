import ETL
import HTTPServer

/// `POST /api/uploads`: the form's files are spooled as the body arrives (a receive worker takes
/// each piece; a slow sender holds no thread), then each file is stored and loaded on an upload
/// thread and the answer lists what became of every file.
final class UploadRequest: HTTPBodyConsumer {
    private let request: HTTPRequest
    private let caller: Caller
    private let processor: UploadProcessor
    private let audit: AuditLog
    private let metrics: Metrics
    private let intake: UploadForm.Intake

    /// Refuses a body that is not a multipart form before any byte of it is read.
    init(_ request: HTTPRequest, caller: Caller, processor: UploadProcessor, limits: UploadForm.Limits,
         audit: AuditLog, metrics: Metrics) throws {
        self.request = request
        self.caller = caller
        self.processor = processor
        self.audit = audit
        self.metrics = metrics
        intake = try UploadForm.Intake(contentType: request.head.headers["content-type"] ?? "",
                                       spoolDirectory: processor.spoolDirectory, limits: limits)
    }

    func consume(_ bytes: UnsafeRawBufferPointer) throws { try intake.consume(bytes) }

    func abandon(_ reason: HTTPError) { intake.discard() }

    func finish() throws -> HTTPResponse {
        try answer(try intake.finish())
    }

    /// Checks the form as a whole (delimiter, CSRF field, every file's region) before anything is
    /// stored, then stores and loads each file.
    private func answer(_ form: UploadForm) throws -> HTTPResponse {
        let region = form.fields["region"]
        // The delimiter the uploader names (form field or query), else told from each header line.
        var dialect: CSVDialect?
        if let name = (form.fields["delimiter"] ?? request.head.queryValue("delimiter"))?.trimmingSpaces(), !name.isEmpty {
            guard let named = CSVDialect(name: name) else {
                for file in form.files { processor.discard(file) }
                throw PortalError.badRequest(code: "bad_delimiter",
                                             message: "delimiter must be comma, semicolon, tab or pipe, not \"\(name)\"")
            }
            dialect = named
        }
        let dryRun: Bool
        do {
            // Given in the query or the form (or both): a check when either asks for one.
            let inQuery = try Self.isDryRun(request.head.queryValue("dry_run"))
            let inForm = try Self.isDryRun(form.fields["dry_run"])
            dryRun = inQuery || inForm
            try caller.checkCSRF(formField: form.fields["csrf"])
            // Every file's region is checked before any is stored: a refused upload stores nothing.
            for file in form.files {
                if let code = processor.regionCode(of: file, explicitRegion: region) { try caller.requireRegion(code) }
            }
        } catch {
            for file in form.files { processor.discard(file) }
            throw error
        }
        guard !form.files.isEmpty else {
            throw PortalError.badRequest(code: "no_file", message: "the form has no file: send it in a field named \"file\"")
        }
        if dryRun {
            // Read, cleaned and counted as an upload would be; nothing stored, nothing recorded.
            let checked = form.files.map { processor.check($0, explicitRegion: region, dialect: dialect) }
            // As for uploads: 503 when the server failed a file, else 200 when any would load, else 422.
            let status = checked.contains(where: \.serverFailure) ? 503 : checked.contains { $0.report != nil } ? 200 : 422
            if Self.prefersHTML(request.head) { return .html(status, UploadHTML.checked(checked)) }
            return .json(status, DryRunJSON.results(checked))
        }
        let outcomes = form.files.map {
            processor.process($0, explicitRegion: region, uploader: caller.principal.name, address: caller.address,
                              requestID: request.requestID, dialect: dialect)
        }
        for outcome in outcomes {
            audit.recordUpload(outcome.record, fileName: outcome.fileName, actor: caller.principal.name, address: caller.address,
                               errorMessage: outcome.errorMessage)
            Routes.logUpload(outcome, by: caller.principal.name, requestID: request.requestID)
            let rows = outcome.inProgressElsewhere ? RowCounts() : outcome.record?.rows ?? RowCounts()
            metrics.recordUpload(status: outcome.inProgressElsewhere ? "resent_while_loading" : outcome.record?.status.rawValue ?? "rejected",
                                 loaded: rows.loaded, rejected: rows.rejected, duplicates: rows.duplicates,
                                 loadSeconds: outcome.loadMillis > 0 ? outcome.loadMillis / 1000 : nil)
        }
        // 503 when the server failed a file (retrying is safe: loading is idempotent),
        // else 200 when any file was processed, else 422.
        let status = outcomes.contains(where: \.failedOnTheServer) ? 503 : outcomes.contains(where: \.succeeded) ? 200 : 422
        let showPaths = caller.principal.has(.admin)
        if Self.prefersHTML(request.head) {
            return .html(status, UploadHTML.page(outcomes))
        }
        return .json(status, UploadJSON.results(outcomes, showPaths: showPaths))
    }

    /// Whether `dry_run` asks for a check only: `1`/`true` yes, `0`/`false`/absent no.
    private static func isDryRun(_ value: String?) throws -> Bool {
        guard let value = value?.trimmingSpaces().lowercased(), !value.isEmpty else { return false }
        switch value {
        case "1", "true": return true
        case "0", "false": return false
        default: throw PortalError.badRequest(code: "bad_dry_run", message: "dry_run must be 1 or 0, not \"\(value)\"")
        }
    }

    /// True for a browser's plain form post (JavaScript asks for JSON).
    private static func prefersHTML(_ head: HTTPRequestHead) -> Bool {
        let accept = head.headers["accept"] ?? ""
        return accept.hasPrefix("text/html")
    }
}
