// The dashboard's questions beyond the summary: revenue over time, top groups,
// the filter choices, and the invoices behind a number (drill-down). Every
// number follows the definitions of `ReportSummary`.

/// The length of a time-series period. Periods start on the first day: a week on Monday (ISO), a month on the 1st.
public enum ReportGrain: String, Sendable, CaseIterable {
    case day, week, month

    /// The first day of the period holding `day` (days since 1970-01-01).
    public func periodStart(of day: Int64) -> Int64 {
        switch self {
        case .day:
            return day
        case .week:
            // 1970-01-01 was a Thursday: Monday is 3 days before.
            let weekday = ((day + 3) % 7 + 7) % 7
            return day - weekday
        case .month:
            let (year, month, _) = DateParser.civil(fromDay: day)
            return DateParser.dayNumber(year: year, month: month, day: 1) ?? day
        }
    }
}

/// What a breakdown groups by.
public enum ReportDimension: String, Sendable, CaseIterable {
    case region, country, product
}

/// Revenue, orders and units of one group of rows (a period or a breakdown entry),
/// with the definitions of `ReportSummary`.
public struct ReportFigures: Sendable, Equatable {
    /// Sum of revenue over product lines, cancellations included (net).
    public var revenue: ExactDecimal
    /// Distinct (region, invoice_no) among non-cancellation rows.
    public var orders: Int
    /// Sum of quantity over product lines.
    public var units: Int64
    public init(revenue: ExactDecimal, orders: Int, units: Int64) {
        self.revenue = revenue
        self.orders = orders
        self.units = units
    }
}

/// One period of a time series.
public struct ReportPeriod: Sendable, Equatable {
    /// First day of the period (days since 1970-01-01).
    public var startDay: Int64
    public var figures: ReportFigures
    public init(startDay: Int64, figures: ReportFigures) {
        self.startDay = startDay
        self.figures = figures
    }
}

/// One entry of a breakdown.
public struct ReportGroup: Sendable, Equatable {
    /// The region, the country, or the stock code.
    public var key: String
    /// For products, one description of the stock code (the greatest, as text); nil otherwise.
    public var label: String?
    public var figures: ReportFigures
    public init(key: String, label: String? = nil, figures: ReportFigures) {
        self.key = key
        self.label = label
        self.figures = figures
    }
}

/// The values the filters can take.
public struct ReportOptions: Sendable, Equatable {
    /// Sorted, distinct.
    public var regions: [String]
    /// Sorted, distinct.
    public var countries: [String]
    /// First and last invoice day; nil when nothing is loaded.
    public var firstDay: Int64?
    public var lastDay: Int64?
    public init(regions: [String], countries: [String], firstDay: Int64?, lastDay: Int64?) {
        self.regions = regions
        self.countries = countries
        self.firstDay = firstDay
        self.lastDay = lastDay
    }
}

/// One invoice (region, invoice number) among the rows matching a filter.
public struct InvoiceOverview: Sendable, Equatable {
    public var region: String
    public var invoiceNo: String
    /// The earliest invoice time of its matching rows.
    public var time: LocalDateTime
    /// The country of its first matching row.
    public var country: String
    /// Its customer, when one is given.
    public var customerID: String?
    /// Matching rows (product lines and others).
    public var lines: Int
    /// Sum of revenue over its matching product lines.
    public var revenue: ExactDecimal
    public var isCancellation: Bool
    public init(region: String, invoiceNo: String, time: LocalDateTime, country: String, customerID: String?,
                lines: Int, revenue: ExactDecimal, isCancellation: Bool) {
        self.region = region
        self.invoiceNo = invoiceNo
        self.time = time
        self.country = country
        self.customerID = customerID
        self.lines = lines
        self.revenue = revenue
        self.isCancellation = isCancellation
    }
}

/// One page of invoices, newest first.
public struct InvoicePage: Sendable, Equatable {
    public var invoices: [InvoiceOverview]
    /// Invoices matching the filter in all pages.
    public var total: Int
    /// 1-based.
    public var page: Int
    public var pageSize: Int
    public init(invoices: [InvoiceOverview], total: Int, page: Int, pageSize: Int) {
        self.invoices = invoices
        self.total = total
        self.page = page
        self.pageSize = pageSize
    }
}

/// One stored line of an invoice.
public struct InvoiceLine: Sendable, Equatable {
    public var stockCode: String
    public var description: String?
    public var quantity: Int64
    public var unitPrice: ExactDecimal
    public var revenue: ExactDecimal
    public var time: LocalDateTime
    public var country: String
    public var customerID: String?
    public var isProduct: Bool
    public var isCancellation: Bool
    /// Line in the uploaded file.
    public var sourceLine: Int64
    public init(stockCode: String, description: String?, quantity: Int64, unitPrice: ExactDecimal, revenue: ExactDecimal,
                time: LocalDateTime, country: String, customerID: String?, isProduct: Bool, isCancellation: Bool,
                sourceLine: Int64) {
        self.stockCode = stockCode
        self.description = description
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.revenue = revenue
        self.time = time
        self.country = country
        self.customerID = customerID
        self.isProduct = isProduct
        self.isCancellation = isCancellation
        self.sourceLine = sourceLine
    }
}

/// A warehouse that answers the dashboard. Filters mean what they mean for `summary`.
/// Calls block: call them from worker threads.
public protocol ReportingWarehouse: Warehouse {
    /// Figures per period, oldest first; periods without rows are left out.
    func timeSeries(_ filter: ReportFilter, grain: ReportGrain) throws -> [ReportPeriod]
    /// The `limit` groups with the highest revenue (ties by key).
    func breakdown(_ filter: ReportFilter, by dimension: ReportDimension, limit: Int) throws -> [ReportGroup]
    /// The regions, countries and date span of the loaded rows of `regions` (nil: of all).
    func reportOptions(regions: [String]?) throws -> ReportOptions
    /// Invoices with a matching row, newest first (ties by region then invoice number).
    func invoices(_ filter: ReportFilter, page: Int, pageSize: Int) throws -> InvoicePage
    /// Every stored line of one invoice, in time then file order; empty when there is none.
    func invoiceLines(region: String, invoiceNo: String) throws -> [InvoiceLine]
    /// A cheap value that changes whenever the loaded rows change, so answers can be cached
    /// until then; nil when the warehouse cannot tell (answers are then not cached).
    func reportDataVersion() throws -> String?
}

extension ReportingWarehouse {
    /// The regions, countries and date span of all loaded rows.
    public func reportOptions() throws -> ReportOptions {
        try reportOptions(regions: nil)
    }
}
