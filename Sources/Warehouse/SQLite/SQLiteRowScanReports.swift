// The dashboard's questions answered from the rows themselves, by SQL over `order_rows`:
// the recomputation the report tables are checked against. Reports read the report
// tables (`SQLiteReports`); these scan every matching row.

import ETL

/// The WHERE clause of a report filter: constant SQL fragments, every value bound as a parameter.
struct SQLiteReportConditions {
    private(set) var conditions: [String] = []
    private var binders: [(SQLiteStatement, Int32) -> Void] = []

    init(_ filter: ReportFilter) {
        conditions.append("\(SQLiteReportSchema.isVisible("u.status"))")
        if let region = filter.region {
            add("u.region = ? COLLATE NOCASE") { $0.bind(region, at: $1) }
        }
        if let allowed = filter.allowedRegions {
            add(Self.inList("u.region", count: allowed.count), count: 0) { _, _ in }
            for region in allowed { binders.append { $0.bind(region, at: $1) } }
        }
        if let country = filter.country {
            add("r.country = ? COLLATE NOCASE") { $0.bind(country, at: $1) }
        }
        if let product = filter.product {
            add("(r.stock_code = ? COLLATE NOCASE OR instr(lower(r.description), lower(?)) > 0)", count: 2) {
                $0.bind(product, at: $1)
            }
        }
        if let fromDay = filter.fromDay {
            add("r.invoice_day >= ?") { $0.bind(fromDay, at: $1) }
        }
        if let toDay = filter.toDay {
            add("r.invoice_day <= ?") { $0.bind(toDay, at: $1) }
        }
        // The same date range as a range of row keys, which lead with the invoice time
        // (big-endian): the unique key index serves date filters, and no index of days
        // slows the inserts. Blob order is time order for times from 1970 on, so the key
        // range is added only then; the day conditions above keep the answer exact.
        if let fromDay = filter.fromDay, fromDay >= 0 {
            let lower = Self.keyBound(seconds: fromDay * 86_400)
            add("r.row_key >= ?") { $0.bind(bytes: lower, at: $1) }
            if let toDay = filter.toDay, toDay >= fromDay {
                let upper = Self.keyBound(seconds: (toDay + 1) * 86_400)
                add("r.row_key < ?") { $0.bind(bytes: upper, at: $1) }
            }
        }
    }

    /// `column IN (?, ?, …)`, or a condition that is never true for an empty list.
    static func inList(_ column: String, count: Int) -> String {
        count == 0 ? "0" : "\(column) IN (" + Array(repeating: "?", count: count).joined(separator: ", ") + ")"
    }

    /// The smallest row key of a time: its seconds big-endian, then eight zero bytes.
    static func keyBound(seconds: Int64) -> [UInt8] {
        withUnsafeBytes(of: UInt64(bitPattern: seconds).bigEndian, Array.init) + [UInt8](repeating: 0, count: 8)
    }

    /// A condition with `count` anonymous parameters, all bound to the same value.
    private mutating func add(_ condition: String, count: Int = 1, _ bind: @escaping (SQLiteStatement, Int32) -> Void) {
        conditions.append(condition)
        for _ in 0..<count { binders.append(bind) }
    }

    /// ` WHERE …` or nothing; `extra` are further constant conditions.
    func whereClause(_ extra: [String] = []) -> String {
        let all = conditions + extra
        return all.isEmpty ? "" : " WHERE " + all.joined(separator: " AND ")
    }

    /// Parameters the clause uses, in order.
    var parameterCount: Int32 { Int32(binders.count) }

    /// Binds the filter's values from parameter 1.
    func bind(_ statement: SQLiteStatement) {
        for (offset, binder) in binders.enumerated() { binder(statement, Int32(offset + 1)) }
    }
}

extension SQLiteWarehouse {
    /// Revenue, orders, units: the first three columns of every figures query.
    static let figureColumns = """
        coalesce(sum(CASE WHEN r.is_product THEN r.revenue_micros END), 0),
        count(DISTINCT CASE WHEN NOT r.is_cancellation THEN u.region || char(31) || r.invoice_no END),
        coalesce(sum(CASE WHEN r.is_product THEN r.quantity END), 0)
        """

    static func figures(_ statement: SQLiteStatement, from column: Int32) -> ReportFigures {
        ReportFigures(revenue: ExactDecimal(micros: statement.int64(column)), orders: Int(statement.int64(column + 1)),
                      units: statement.int64(column + 2))
    }

    /// SQL giving the first day of the period of `r.invoice_day`.
    static func periodStart(_ grain: ReportGrain) -> String {
        switch grain {
        case .day: return "r.invoice_day"
        // Monday on or before the day; 1970-01-01 was a Thursday.
        case .week: return "(r.invoice_day - ((r.invoice_day % 7 + 10) % 7))"
        case .month:
            return "CAST(julianday(r.invoice_day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER)"
        }
    }

    @_spi(Testing) public func rowScanTimeSeries(_ filter: ReportFilter, grain: ReportGrain) throws -> [ReportPeriod] {
        let where_ = SQLiteReportConditions(filter)
        let sql = "SELECT \(Self.periodStart(grain)) AS period, \(Self.figureColumns)"
            + " FROM order_rows r JOIN uploads u ON u.ref = r.upload_ref" + where_.whereClause()
            + " GROUP BY period ORDER BY period"
        return try withReader { connection throws(WarehouseError) in
            let statement = try connection.cached(sql)
            defer { statement.reset() }
            where_.bind(statement)
            var periods: [ReportPeriod] = []
            while try statement.step() {
                periods.append(ReportPeriod(startDay: statement.int64(0), figures: Self.figures(statement, from: 1)))
            }
            return periods
        }
    }

    @_spi(Testing) public func rowScanBreakdown(_ filter: ReportFilter, by dimension: ReportDimension, limit: Int) throws -> [ReportGroup] {
        let where_ = SQLiteReportConditions(filter)
        let key: String
        let label: String
        switch dimension {
        case .region: key = "u.region"; label = "NULL"
        case .country: key = "r.country"; label = "NULL"
        case .product: key = "r.stock_code"; label = "max(r.description)"
        }
        let sql = "SELECT \(key) AS group_key, \(label), \(Self.figureColumns)"
            + " FROM order_rows r JOIN uploads u ON u.ref = r.upload_ref" + where_.whereClause()
            + " GROUP BY group_key ORDER BY 3 DESC, group_key LIMIT ?\(where_.parameterCount + 1)"
        return try withReader { connection throws(WarehouseError) in
            let statement = try connection.cached(sql)
            defer { statement.reset() }
            where_.bind(statement)
            statement.bind(Int64(max(limit, 0)), at: where_.parameterCount + 1)
            var groups: [ReportGroup] = []
            while try statement.step() {
                groups.append(ReportGroup(key: statement.text(0) ?? "", label: statement.text(1),
                                          figures: Self.figures(statement, from: 2)))
            }
            return groups
        }
    }

    /// The regions, countries and date span of the visible rows of `allowed` (nil: of all).
    @_spi(Testing) public func rowScanOptions(regions allowed: [String]?) throws -> ReportOptions {
        let where_ = SQLiteReportConditions(ReportFilter(allowedRegions: allowed))
        let from = " FROM order_rows r JOIN uploads u ON u.ref = r.upload_ref" + where_.whereClause()
        return try withReader { connection throws(WarehouseError) in
            func texts(_ column: String) throws(WarehouseError) -> [String] {
                let statement = try connection.cached("SELECT DISTINCT \(column)" + from + " ORDER BY 1")
                defer { statement.reset() }
                where_.bind(statement)
                var found: [String] = []
                while try statement.step() { if let text = statement.text(0), !text.isEmpty { found.append(text) } }
                return found
            }
            let regions = try texts("u.region")
            let countries = try texts("r.country")
            let span = try connection.cached("SELECT min(r.invoice_day), max(r.invoice_day)" + from)
            defer { span.reset() }
            where_.bind(span)
            guard try span.step(), !span.isNull(0) else {
                return ReportOptions(regions: regions, countries: countries, firstDay: nil, lastDay: nil)
            }
            return ReportOptions(regions: regions, countries: countries, firstDay: span.int64(0), lastDay: span.int64(1))
        }
    }

    @_spi(Testing) public func rowScanInvoices(_ filter: ReportFilter, page: Int, pageSize: Int) throws -> InvoicePage {
        let where_ = SQLiteReportConditions(filter)
        let from = " FROM order_rows r JOIN uploads u ON u.ref = r.upload_ref" + where_.whereClause()
        let countSQL = "SELECT count(*) FROM (SELECT 1" + from + " GROUP BY u.region, r.invoice_no)"
        let limit = where_.parameterCount + 1
        let pageSQL = """
            SELECT u.region, r.invoice_no, min(r.invoice_time) AS first_time, min(r.country), min(r.customer_id),
                   count(*), coalesce(sum(CASE WHEN r.is_product THEN r.revenue_micros END), 0), max(r.is_cancellation)
            """ + from + " GROUP BY u.region, r.invoice_no ORDER BY first_time DESC, u.region, r.invoice_no"
            + " LIMIT ?\(limit) OFFSET ?\(limit + 1)"
        let size = max(pageSize, 1)
        let number = max(page, 1)
        return try withReader { connection throws(WarehouseError) in
            let count = try connection.cached(countSQL)
            where_.bind(count)
            let total = try count.step() ? Int(count.int64(0)) : 0
            count.reset()
            let statement = try connection.cached(pageSQL)
            defer { statement.reset() }
            where_.bind(statement)
            statement.bind(Int64(size), at: limit)
            statement.bind(Int64(number - 1) * Int64(size), at: limit + 1)
            var invoices: [InvoiceOverview] = []
            while try statement.step() {
                invoices.append(InvoiceOverview(
                    region: statement.text(0) ?? "", invoiceNo: statement.text(1) ?? "",
                    time: LocalDateTime(secondsSinceEpoch: statement.int64(2)), country: statement.text(3) ?? "",
                    customerID: statement.text(4), lines: Int(statement.int64(5)),
                    revenue: ExactDecimal(micros: statement.int64(6)), isCancellation: statement.int64(7) != 0))
            }
            return InvoicePage(invoices: invoices, total: total, page: number, pageSize: size)
        }
    }

    @_spi(Testing) public func rowScanInvoiceLines(region: String, invoiceNo: String) throws -> [InvoiceLine] {
        try withReader { connection throws(WarehouseError) in
            try rowScanInvoiceLines(connection, region: region, invoiceNo: invoiceNo)
        }
    }

    /// Every visible line of one invoice, in time, upload, then file order, from the rows.
    func rowScanInvoiceLines(_ connection: SQLiteConnection, region: String, invoiceNo: String) throws(WarehouseError) -> [InvoiceLine] {
        let statement = try connection.cached("""
            SELECT r.stock_code, r.description, r.quantity, r.unit_price_micros, r.revenue_micros, r.invoice_time,
                   r.country, r.customer_id, r.is_product, r.is_cancellation, r.source_line
            FROM order_rows r JOIN uploads u ON u.ref = r.upload_ref
            WHERE r.invoice_no = ?1 AND u.region = ?2 COLLATE NOCASE AND \(SQLiteReportSchema.isVisible("u.status"))
            ORDER BY r.invoice_time, u.ref, r.source_line
            """)
        defer { statement.reset() }
        statement.bind(invoiceNo, at: 1)
        statement.bind(region, at: 2)
        var lines: [InvoiceLine] = []
        while try statement.step() { lines.append(Self.invoiceLine(statement)) }
        return lines
    }

    /// The report numbers over the rows matching the filter. Region and country compare
    /// case-insensitively (ASCII); product matches the stock code case-insensitively or
    /// text inside the description (ASCII case folding); days are inclusive.
    @_spi(Testing) public func rowScanSummary(_ filter: ReportFilter) throws -> ReportSummary {
        // The SQL is assembled only from constant fragments; every value is bound as a parameter.
        let conditions = SQLiteReportConditions(filter)
        let sql = """
            SELECT
                coalesce(sum(CASE WHEN r.is_product THEN r.revenue_micros END), 0),
                count(DISTINCT CASE WHEN NOT r.is_cancellation THEN u.region || char(31) || r.invoice_no END),
                count(DISTINCT CASE WHEN r.is_cancellation THEN u.region || char(31) || r.invoice_no END),
                coalesce(sum(CASE WHEN r.is_product THEN r.quantity END), 0),
                count(DISTINCT r.customer_id)
            FROM order_rows r JOIN uploads u ON u.ref = r.upload_ref
            """ + conditions.whereClause()
        return try withReader { connection throws(WarehouseError) in
            let statement = try connection.cached(sql)
            conditions.bind(statement)
            guard try statement.step() else { throw .corruptValue("the summary query returned no row") }
            let summary = ReportSummary(
                revenue: ExactDecimal(micros: statement.int64(0)),
                orders: Int(statement.int64(1)),
                cancellations: Int(statement.int64(2)),
                units: statement.int64(3),
                customers: Int(statement.int64(4)))
            statement.reset()
            return summary
        }
    }
}
