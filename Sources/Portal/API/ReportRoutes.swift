import ETL
import HTTPServer
import Support
import Synchronization

/// The dashboard's API (`/api/report/…`) and the `/dashboard` page.
enum ReportRoutes {
    /// Limits of the report API.
    struct Limits: Sendable {
        var defaultBreakdownLimit = 10
        var maxBreakdownLimit = 500
        var defaultPageSize = 25
        var maxPageSize = 500
        /// Answers kept in memory until the rows change.
        var cachedAnswers = 256
        /// How often the rows are checked for changes, to answer the dashboard's opening
        /// questions ahead of time once they have settled; 0 = never.
        var warmIntervalSeconds = 2.0
    }

    static func add(to router: inout SecuredRouter, processor: UploadProcessor, pages: Pages?, config: PortalConfig,
                    limits: Limits = Limits()) {
        let context = ReportContext(config: config)
        let cache = ReportCache(capacity: limits.cachedAnswers)
        router.metrics.setSources { $0.cacheCounts = { cache.counts } }
        let slots = ClientSlots(limit: config.server.limits.maxQueriesPerClient)
        /// The answer from the cache, at once; else computed on the compute threads (so answers
        /// already kept never wait behind computations). A client may have only so many computed at once.
        @Sendable func respond(_ question: ReportQuestion, _ caller: Caller) throws -> HTTPResponse {
            let version = try reportCall(processor) { try $0.reportDataVersion() }
            if let kept = cache.lookup(question.cacheKey, version: version) {
                return HTTPResponse.json(200, kept).withValidator(cacheControl: Routes.apiCacheControl)
            }
            return .computed {
                guard slots.acquire(caller.address) else {
                    throw HTTPError(status: 429, code: "too_many_queries",
                                    message: "this address has \(slots.limit) report questions running; ask again when one is answered",
                                    extraHeaders: ["Retry-After": "1"])
                }
                defer { slots.release(caller.address) }
                let bytes = try reportCall(processor) { warehouse in
                    try cache.compute(question.cacheKey, version: version) { try question.answer(warehouse, context) }
                }
                return HTTPResponse.json(200, bytes).withValidator(cacheControl: Routes.apiCacheControl)
            }
        }
        if limits.warmIntervalSeconds > 0 {
            ReportWarmer(warehouse: processor.warehouse, cache: cache, context: context, intervalSeconds: limits.warmIntervalSeconds).start()
        }
        /// The filters of the query, limited to the caller's regions.
        @Sendable func filter(_ request: HTTPRequest, _ caller: Caller) throws -> ReportFilter {
            try scoped(try ReportQuery.filter(from: request.head), caller)
        }
        router.add("GET", "/api/report/summary", access: .viewer, regions: .query, .blocking { request, caller in
            try respond(.summary(try filter(request, caller)), caller)
        })
        router.add("GET", "/api/report/timeseries", access: .viewer, regions: .query, .blocking { request, caller in
            let filter = try filter(request, caller)
            let grainText = request.head.queryValue("grain").flatMap { $0.isEmpty ? nil : $0 } ?? "day"
            guard let grain = ReportGrain(rawValue: grainText) else {
                throw PortalError.badRequest(code: "bad_grain", message: "grain must be day, week or month, not \"\(grainText)\"")
            }
            return try respond(.timeSeries(filter, grain), caller)
        })
        router.add("GET", "/api/report/breakdown", access: .viewer, regions: .query, .blocking { request, caller in
            let filter = try filter(request, caller)
            let byText = request.head.queryValue("by") ?? ""
            guard let dimension = ReportDimension(rawValue: byText) else {
                throw PortalError.badRequest(code: "bad_dimension", message: "by must be region, country or product, not \"\(byText)\"")
            }
            let limit = try integer(request.head, "limit", default: limits.defaultBreakdownLimit, range: 1...limits.maxBreakdownLimit)
            return try respond(.breakdown(filter, dimension, limit: limit), caller)
        })
        router.add("GET", "/api/report/options", access: .viewer, regions: .query, .blocking { request, caller in
            // The choices are the caller's regions'; naming another region is refused as everywhere.
            if let region = request.head.queryValue("region")?.trimmingSpaces(), !region.isEmpty { try caller.requireRegion(region) }
            return try respond(.options(allowedRegions: caller.principal.regions.restriction), caller)
        })
        router.add("GET", "/api/report/invoices", access: .viewer, regions: .query, .blocking { request, caller in
            let filter = try filter(request, caller)
            let page = try integer(request.head, "page", default: 1, range: 1...1_000_000)
            let size = try integer(request.head, "page_size", default: limits.defaultPageSize, range: 1...limits.maxPageSize)
            return try respond(.invoices(filter, page: page, pageSize: size), caller)
        })
        router.add("GET", "/api/report/invoices/{region}/{invoice}", access: .viewer, regions: .path, .blocking { request, caller in
            let region = (request.pathParameters["region"] ?? "").uppercased()
            let invoice = request.pathParameters["invoice"] ?? ""
            try caller.requireRegion(region)
            let lines = try reportCall(processor) { try $0.invoiceLines(region: region, invoiceNo: invoice) }
            guard !lines.isEmpty else {
                throw PortalError.notFound("no invoice \"\(invoice)\" in region \"\(region)\"")
            }
            return HTTPResponse.json(200, ReportJSON.invoice(region: region, invoiceNo: invoice, lines: lines))
                .withValidator(cacheControl: Routes.apiCacheControl)
        })
        if let pages {
            router.add("GET", "/dashboard", access: .viewer, kind: .page, .immediate { _, caller in
                pages.dashboardPage(caller)
            })
        }
    }

    /// A filter limited to the caller's regions: a region outside them is refused (403); without a
    /// region, only theirs are counted (row-level, in the warehouse's query).
    static func scoped(_ filter: ReportFilter, _ caller: Caller) throws(HTTPError) -> ReportFilter {
        var filter = filter
        if let region = filter.region {
            try caller.requireRegion(region)
        } else {
            filter.allowedRegions = caller.principal.regions.restriction
        }
        return filter
    }

    /// An integer query parameter within `range`; `default` when absent or blank.
    private static func integer(_ head: HTTPRequestHead, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = head.queryValue(name), !text.isEmpty else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw PortalError.badRequest(
                code: "bad_\(name)", message: "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// Runs a report call on the warehouse, turning its failure into a 503 with the reason.
    private static func reportCall<T>(_ processor: UploadProcessor, _ body: (any ReportingWarehouse) throws -> T) throws -> T {
        do { return try body(processor.warehouse) } catch let error as any HTTPResponseError { throw error } catch {
            throw Routes.warehouseFailure(error)
        }
    }
}

/// Links to Looker Studio (Linking API) for the BigQuery deployment.
enum LookerStudio {
    /// A new report in edit mode over the `orders_report` view; nil in embedded mode or without a project.
    /// Data-source parameters name their alias (`ds.ds0.…`): the blank report Looker Studio starts
    /// from has one data source, `ds0`, which the link replaces with the BigQuery view.
    static func reportURL(_ config: PortalConfig, view: String = "orders_report") -> String? {
        guard config.storage.mode == "gcp", !config.gcp.project.isEmpty else { return nil }
        let parameters = [
            ("c.mode", "edit"),
            ("r.reportName", "Sales orders"),
            ("ds.ds0.datasourceName", "Sales orders (\(config.gcp.dataset).\(view))"),
            ("ds.ds0.connector", "bigQuery"),
            ("ds.ds0.type", "TABLE"),
            ("ds.ds0.projectId", config.gcp.project),
            ("ds.ds0.datasetId", config.gcp.dataset),
            ("ds.ds0.tableId", view),
        ]
        return "https://lookerstudio.google.com/reporting/create?"
            + parameters.map { "\($0.0)=\(PercentEncoding.encode($0.1))" }.joined(separator: "&")
    }
}

/// Report questions being computed per client address, at most `limit` each: one client asking
/// many expensive questions at once cannot take every query thread.
final class ClientSlots: Sendable {
    let limit: Int
    private let held = Mutex<[String: Int]>([:])

    init(limit: Int) { self.limit = max(1, limit) }

    /// Takes a slot for `address`; false when it holds `limit` already.
    func acquire(_ address: String) -> Bool {
        held.withLock { held in
            let count = held[address, default: 0]
            guard count < limit else { return false }
            held[address] = count + 1
            return true
        }
    }

    func release(_ address: String) {
        held.withLock { held in
            let count = held[address, default: 0] - 1
            held[address] = count > 0 ? count : nil
        }
    }
}
