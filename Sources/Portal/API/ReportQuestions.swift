import ETL

/// What the portal says about itself in report answers.
struct ReportContext: Sendable {
    /// A new Looker Studio report over the BigQuery view; nil in embedded mode.
    var lookerURL: String?
    /// `embedded` or `gcp`.
    var mode: String
    /// The one currency of every configured region, or nil when they differ.
    var currency: String?

    init(config: PortalConfig) {
        lookerURL = LookerStudio.reportURL(config)
        mode = config.storage.mode
        let currencies = Set(config.regions.map { $0.currency.uppercased() })
        currency = currencies.count == 1 ? currencies.first : nil
    }
}

/// One question of the report API, parsed and checked; its cache key names it whatever
/// the order or spelling of the query string was.
enum ReportQuestion: Sendable {
    case summary(ReportFilter)
    case timeSeries(ReportFilter, ReportGrain)
    case breakdown(ReportFilter, ReportDimension, limit: Int)
    /// The filter choices, over `allowedRegions` only when given.
    case options(allowedRegions: [String]?)
    case invoices(ReportFilter, page: Int, pageSize: Int)

    var cacheKey: String {
        switch self {
        case .summary(let filter): "summary|" + Self.key(filter)
        case .timeSeries(let filter, let grain): "timeseries|\(grain.rawValue)|" + Self.key(filter)
        case .breakdown(let filter, let dimension, let limit): "breakdown|\(dimension.rawValue)|\(limit)|" + Self.key(filter)
        case .options(let allowed): "options|" + (allowed?.joined(separator: ",") ?? "\u{0}")
        case .invoices(let filter, let page, let size): "invoices|\(page)|\(size)|" + Self.key(filter)
        }
    }

    /// The JSON answer from the warehouse.
    func answer(_ warehouse: any ReportingWarehouse, _ context: ReportContext) throws -> [UInt8] {
        switch self {
        case .summary(let filter):
            return ReportJSON.summary(try warehouse.summary(filter), filter: filter)
        case .timeSeries(let filter, let grain):
            return ReportJSON.timeSeries(try warehouse.timeSeries(filter, grain: grain), grain: grain, filter: filter)
        case .breakdown(let filter, let dimension, let limit):
            return ReportJSON.breakdown(try warehouse.breakdown(filter, by: dimension, limit: limit), by: dimension, filter: filter)
        case .options(let allowed):
            return ReportJSON.options(try warehouse.reportOptions(regions: allowed), lookerURL: context.lookerURL, mode: context.mode,
                                      currency: context.currency)
        case .invoices(let filter, let page, let size):
            return ReportJSON.invoices(try warehouse.invoices(filter, page: page, pageSize: size), filter: filter)
        }
    }

    /// Unit separators between fields: no value can fake another field.
    private static func key(_ filter: ReportFilter) -> String {
        [filter.region ?? "\u{0}", filter.country ?? "\u{0}", filter.product ?? "\u{0}",
         filter.fromDay.map { String($0) } ?? "\u{0}", filter.toDay.map { String($0) } ?? "\u{0}",
         filter.allowedRegions?.joined(separator: ",") ?? "\u{0}"].joined(separator: "\u{1F}")
    }

    /// What the dashboard asks when opened without filters, then after a click on each region's
    /// bar (see Public/dashboard.js): answered ahead of time once new rows have settled.
    /// At most `maxRegions` regions are prepared.
    static func dashboardOpening(options: ReportOptions?, maxRegions: Int = 10) -> [ReportQuestion] {
        var grain = ReportGrain.month
        if let first = options?.firstDay, let last = options?.lastDay {
            let span = last - first
            grain = span <= 62 ? .day : span <= 366 ? .week : .month
        }
        func view(_ filter: ReportFilter) -> [ReportQuestion] {
            [.summary(filter), .timeSeries(filter, grain), .breakdown(filter, .region, limit: 20),
             .breakdown(filter, .country, limit: 15), .breakdown(filter, .product, limit: 10),
             .invoices(filter, page: 1, pageSize: 25)]
        }
        var questions: [ReportQuestion] = [.options(allowedRegions: nil)] + view(ReportFilter())
        for region in (options?.regions ?? []).prefix(maxRegions) {
            questions += view(ReportFilter(region: region.uppercased()))
        }
        return questions
    }
}
