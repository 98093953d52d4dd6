import ETL
import HTTPServer
import Warehouse

/// The HTTP surface described in docs/api.md, built once and frozen into the server.
enum Routes {
    /// Cache-Control of the JSON answers read with GET: only the caller's browser may keep one
    /// (it depends on who asks), and only to revalidate it with its ETag before each use.
    static let apiCacheControl = "private, no-cache"

    /// Every route with its access declaration, behind `gate`; `pages` are the personalised pages.
    /// `events` loads the objects of bucket notifications (nil when `gcsEvents.enabled` is false).
    static func make(processor: UploadProcessor, staticFiles: StaticFiles?, pages: Pages?, gate: Gatekeeper,
                     config: PortalConfig, audit: AuditLog, events: ObjectEventIntake?, readiness: Readiness,
                     log: @escaping @Sendable (String) -> Void) -> SecuredRouter {
        let metrics = Metrics(countsRequests: config.server.metrics)
        var router = SecuredRouter(gate: gate, metrics: metrics)
        let prometheusText = "text/plain; version=0.0.4; charset=utf-8"
        if metrics.countsRequests {
            router.add("GET", "/metrics", access: .admin, .immediate { _, _ in
                HTTPResponse(status: 200, headers: ["Content-Type": prometheusText, "Cache-Control": "no-store"], body: metrics.render())
            })
        }
        let health = HTTPResponse(status: 200, headers: ["Content-Type": "application/json", "Cache-Control": "no-store"],
                                  body: Array(#"{"status":"ok"}"#.utf8))
        router.add("GET", "/healthz", access: .public, checksHost: false, .immediate { _, _ in health })
        router.add("GET", "/readyz", access: .public, checksHost: false, .immediate { _, _ in
            readiness.response()
        })

        let formLimits = UploadForm.Limits(maxFiles: config.server.limits.maxFilesPerUpload,
                                           maxDecompressedBytes: config.server.limits.maxUploadBytes)
        router.add("POST", "/api/uploads", access: .uploader, regions: .upload, csrf: .originAndTokenOrFormField, .streaming { request, caller in
            try UploadRequest(request, caller: caller, processor: processor, limits: formLimits, audit: audit, metrics: metrics)
        })
        router.add("GET", "/api/uploads", access: .viewer, regions: .record, .blocking { request, caller in
            let limit = try listLimit(request.head.queryValue("limit"))
            let records = try warehouseCall {
                try processor.warehouse.recentUploads(limit: limit, regions: caller.principal.regions.restriction)
            }
            return HTTPResponse.json(200, UploadJSON.list(records, showPaths: caller.principal.has(.admin)))
                .withValidator(cacheControl: apiCacheControl)
        })
        router.add("GET", "/api/uploads/{id}", access: .viewer, regions: .record, .blocking { request, caller in
            let id = request.pathParameters["id"] ?? ""
            guard UploadID.isValid(id), let record = try warehouseCall({ try processor.warehouse.upload(id: id) }),
                  caller.mayAccess(region: record.region)
            else {
                throw PortalError.notFound("no upload with id \"\(id)\"")
            }
            return HTTPResponse.json(200, UploadJSON.single(record, showPaths: caller.principal.has(.admin)))
                .withValidator(cacheControl: apiCacheControl)
        })
        // Pub/Sub pushes of bucket notifications: the caller proves itself with Google's ID token,
        // not as a user of the portal; the host is the push endpoint's (list it in server.allowedHosts).
        router.add("POST", "/api/events/gcs", access: .public, csrf: .originOnly, .blocking { request, _ in
            guard let events else {
                throw PortalError.notFound("bucket notifications are not taken here: gcsEvents.enabled is false")
            }
            return try events.receive(request)
        })
        SignInRoutes.add(to: &router, pages: pages, audit: audit, log: log)
        AuditRoutes.add(to: &router, processor: processor, pages: pages, audit: audit)
        ReportRoutes.add(to: &router, processor: processor, pages: pages, config: config)
        // An unknown API path is a JSON 404 of its own, not a missing static file.
        router.add("GET", "/api/{path...}", access: .viewer, .immediate { request, _ in
            throw PortalError.notFound("no API route \(request.head.path); see README.md for the routes")
        })
        if let pages {
            router.add("GET", "/", access: .viewer, kind: .page, .immediate { _, caller in
                pages.uploadPage(caller)
            })
        }
        if let staticFiles, case .immediate(let serve) = staticFiles.handler {
            router.add("GET", "/{path...}", access: .public, kind: .asset, .immediate { request, _ in
                // The pages are templates: served filled in on their own routes only.
                let path = request.pathParameters["path"] ?? ""
                if Pages.templateNames.contains(path) || path.isEmpty {
                    throw HTTPError(status: 404, code: "not_found", message: "No such file.")
                }
                return try serve(request)
            })
        }
        return router
    }

    /// One line per file of an upload request, with the request's id: what happened to it.
    static func logUpload(_ outcome: UploadOutcome, by user: String, requestID: String) {
        let record = outcome.record
        let status = outcome.inProgressElsewhere ? "being loaded already" : record?.status.rawValue ?? "rejected"
        var line = "upload \(record?.id ?? "-") of \(outcome.fileName) by \(user): \(status)"
        if let rows = record?.rows, !outcome.inProgressElsewhere {
            line += ", \(rows.loaded) loaded, \(rows.rejected) rejected, \(rows.duplicates) duplicates"
        }
        if let code = outcome.errorCode ?? record?.errorCode { line += " (\(code))" }
        let severity: LogSeverity = outcome.failedOnTheServer ? .error : outcome.succeeded ? .info : .warning
        ServerLog.line(line, severity: severity, requestID: requestID)
    }

    /// `?limit=` of the history: 1…1000, 50 when absent.
    private static func listLimit(_ text: String?) throws -> Int {
        guard let text, !text.isEmpty else { return 50 }
        guard let limit = Int(text), (1...1000).contains(limit) else {
            throw PortalError.badRequest(code: "bad_limit", message: "limit must be a whole number from 1 to 1000, not \"\(text)\"")
        }
        return limit
    }

    /// Runs a warehouse call, turning its failure into a 503 with the reason.
    static func warehouseCall<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as any HTTPResponseError { throw error } catch {
            throw warehouseFailure(error)
        }
    }

    /// The answer to a failed warehouse call: a question over its time budget is 503
    /// `query_timeout` (ask a narrower one, or again later); anything else 503 with the reason.
    static func warehouseFailure(_ error: any Error) -> HTTPError {
        if let failure = error as? WarehouseError, case .timedOut = failure {
            return HTTPError(status: 503, code: "query_timeout",
                             message: "\(failure.message): narrow the filters (a date range, a region) or try again later",
                             extraHeaders: ["Retry-After": "5"])
        }
        return PortalError.warehouse("the warehouse failed: \(error)").httpError
    }
}
