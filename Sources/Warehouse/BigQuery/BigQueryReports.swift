// The dashboard's questions over BigQuery, through the `orders_report` view (one
// row per row key), with named query parameters only. Same definitions as `summary`.

import ETL
import GoogleCloud

/// The WHERE clause of a report filter: constant SQL, values as named parameters. Region codes
/// are stored in capitals (the portal capitalizes the filter), so the region compares exactly and
/// keeps clustering useful; the country compares ignoring case, as SQLite's NOCASE does for ASCII.
struct BigQueryReportConditions {
    private(set) var conditions: [String] = []
    private(set) var parameters: [QueryParameter] = []

    init(_ filter: ReportFilter) {
        if let region = filter.region {
            conditions.append("region = @region"); parameters.append(.string("region", region))
        }
        if let allowed = filter.allowedRegions {
            let (condition, values) = Self.inList("region", allowed, prefix: "allowed_region")
            conditions.append(condition); parameters += values
        }
        if let country = filter.country {
            conditions.append("UPPER(country) = UPPER(@country)"); parameters.append(.string("country", country))
        }
        if let product = filter.product {
            conditions.append("(UPPER(stock_code) = UPPER(@product) OR STRPOS(LOWER(IFNULL(description, '')), LOWER(@product)) > 0)")
            parameters.append(.string("product", product))
        }
        // The month number beside the date: the table is partitioned by it, so a date range reads
        // only its months (the view partitions its dedupe by month, region and key, so the
        // conditions reach the table).
        if let from = filter.fromDay {
            conditions.append("invoice_month >= @from_month"); parameters.append(.int64("from_month", LocalDateTime.monthNumber(dayNumber: from)))
            conditions.append("invoice_date >= @from_day"); parameters.append(.date("from_day", BigQueryText.date(days: from)))
        }
        if let to = filter.toDay {
            conditions.append("invoice_month <= @to_month"); parameters.append(.int64("to_month", LocalDateTime.monthNumber(dayNumber: to)))
            conditions.append("invoice_date <= @to_day"); parameters.append(.date("to_day", BigQueryText.date(days: to)))
        }
    }

    /// `column IN (@prefix_0, …)` with its parameters, or a condition never true for an empty list.
    static func inList(_ column: String, _ values: [String], prefix: String) -> (String, [QueryParameter]) {
        guard !values.isEmpty else { return ("FALSE", []) }
        let names = values.indices.map { "\(prefix)_\($0)" }
        return ("\(column) IN (" + names.map { "@" + $0 }.joined(separator: ", ") + ")",
                zip(names, values).map { QueryParameter.string($0, $1) })
    }

    /// `WHERE …` or nothing.
    var whereClause: String { conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") }
}

extension BigQueryWarehouse: ReportingWarehouse {
    /// Revenue, orders, units, named as `figures(_:_:)` reads them.
    static let figureColumns = """
        SUM(IF(is_product, revenue, 0)) AS revenue,
        COUNT(DISTINCT IF(is_cancellation, NULL, CONCAT(region, '|', invoice_no))) AS orders,
        SUM(IF(is_product, quantity, 0)) AS units
        """

    static func figures(_ result: QueryResult, _ row: Int) -> ReportFigures {
        ReportFigures(revenue: BigQueryText.parseDecimal(result.value(row, "revenue").string) ?? .zero,
                      orders: Int(result.value(row, "orders").int64 ?? 0), units: result.value(row, "units").int64 ?? 0)
    }

    public func timeSeries(_ filter: ReportFilter, grain: ReportGrain) throws -> [ReportPeriod] {
        let period: String
        switch grain {
        case .day: period = "invoice_date"
        case .week: period = "DATE_TRUNC(invoice_date, WEEK(MONDAY))"
        case .month: period = "DATE_TRUNC(invoice_date, MONTH)"
        }
        let conditions = BigQueryReportConditions(filter)
        let result = try reportQuery(
            """
            SELECT UNIX_DATE(\(period)) AS period, \(Self.figureColumns)
            FROM \(report) \(conditions.whereClause)
            GROUP BY period ORDER BY period
            """, parameters: conditions.parameters)
        return result.rows.indices.map { row in
            ReportPeriod(startDay: result.value(row, "period").int64 ?? 0, figures: Self.figures(result, row))
        }
    }

    public func breakdown(_ filter: ReportFilter, by dimension: ReportDimension, limit: Int) throws -> [ReportGroup] {
        let key: String
        let label: String
        switch dimension {
        case .region: key = "region"; label = "CAST(NULL AS STRING)"
        case .country: key = "country"; label = "CAST(NULL AS STRING)"
        case .product: key = "stock_code"; label = "MAX(description)"
        }
        let conditions = BigQueryReportConditions(filter)
        let result = try reportQuery(
            """
            SELECT \(key) AS group_key, \(label) AS label, \(Self.figureColumns)
            FROM \(report) \(conditions.whereClause)
            GROUP BY group_key ORDER BY revenue DESC, group_key LIMIT @row_limit
            """, parameters: conditions.parameters + [.int64("row_limit", Int64(max(limit, 0)))])
        return result.rows.indices.map { row in
            ReportGroup(key: result.value(row, "group_key").string ?? "", label: result.value(row, "label").string,
                        figures: Self.figures(result, row))
        }
    }

    public func reportOptions(regions allowed: [String]?) throws -> ReportOptions {
        let scope = BigQueryReportConditions(ReportFilter(allowedRegions: allowed))
        let rows = scope.conditions.isEmpty ? report : "(SELECT * FROM \(report) \(scope.whereClause))"
        let result = try reportQuery(
            """
            SELECT 'region' AS kind, region AS value FROM \(rows) GROUP BY region
            UNION ALL SELECT 'country' AS kind, country AS value FROM \(rows) WHERE country IS NOT NULL GROUP BY country
            UNION ALL SELECT 'first' AS kind, CAST(UNIX_DATE(MIN(invoice_date)) AS STRING) AS value FROM \(rows)
            UNION ALL SELECT 'last' AS kind, CAST(UNIX_DATE(MAX(invoice_date)) AS STRING) AS value FROM \(rows)
            """, parameters: scope.parameters)
        var options = ReportOptions(regions: [], countries: [], firstDay: nil, lastDay: nil)
        for row in result.rows.indices {
            guard let value = result.value(row, "value").string, !value.isEmpty else { continue }
            switch result.value(row, "kind").string {
            case "region": options.regions.append(value)
            case "country": options.countries.append(value)
            case "first": options.firstDay = Int64(value)
            case "last": options.lastDay = Int64(value)
            default: break
            }
        }
        // Byte order, as SQLite's default collation sorts.
        options.regions.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        options.countries.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        return options
    }

    public func invoices(_ filter: ReportFilter, page: Int, pageSize: Int) throws -> InvoicePage {
        let size = max(pageSize, 1)
        let number = max(page, 1)
        let conditions = BigQueryReportConditions(filter)
        let result = try reportQuery(
            """
            WITH invoices AS (
              SELECT region, invoice_no, UNIX_SECONDS(TIMESTAMP(MIN(invoice_ts))) AS first_time, MIN(country) AS country,
                     MIN(customer_id) AS customer_id, COUNT(*) AS line_count, SUM(IF(is_product, revenue, 0)) AS revenue,
                     LOGICAL_OR(is_cancellation) AS is_cancellation
              FROM \(report) \(conditions.whereClause)
              GROUP BY region, invoice_no
            )
            SELECT *, COUNT(*) OVER () AS total FROM invoices
            ORDER BY first_time DESC, region, invoice_no
            LIMIT @row_limit OFFSET @row_offset
            """,
            parameters: conditions.parameters + [.int64("row_limit", Int64(size)),
                                                 .int64("row_offset", Int64(number - 1) * Int64(size))])
        var total = 0
        var invoices: [InvoiceOverview] = []
        for row in result.rows.indices {
            total = Int(result.value(row, "total").int64 ?? 0)
            invoices.append(InvoiceOverview(
                region: result.value(row, "region").string ?? "", invoiceNo: result.value(row, "invoice_no").string ?? "",
                time: LocalDateTime(secondsSinceEpoch: result.value(row, "first_time").int64 ?? 0),
                country: result.value(row, "country").string ?? "", customerID: result.value(row, "customer_id").string,
                lines: Int(result.value(row, "line_count").int64 ?? 0),
                revenue: BigQueryText.parseDecimal(result.value(row, "revenue").string) ?? .zero,
                isCancellation: result.value(row, "is_cancellation").bool ?? false))
        }
        if invoices.isEmpty && number > 1 {
            // Past the last page: the window count is not there to read, so ask for it.
            total = try self.invoices(filter, page: 1, pageSize: 1).total
        }
        return InvoicePage(invoices: invoices, total: total, page: number, pageSize: size)
    }

    public func invoiceLines(region: String, invoiceNo: String) throws -> [InvoiceLine] {
        let result = try reportQuery(
            """
            SELECT stock_code, description, quantity, unit_price, revenue, UNIX_SECONDS(TIMESTAMP(invoice_ts)) AS seconds,
                   country, customer_id, is_product, is_cancellation, source_line
            FROM \(report)
            WHERE region = @region AND invoice_no = @invoice_no
            ORDER BY seconds, upload_id, source_line
            """, parameters: [.string("region", region.uppercased()), .string("invoice_no", invoiceNo)])
        return result.rows.indices.map { row in
            InvoiceLine(
                stockCode: result.value(row, "stock_code").string ?? "", description: result.value(row, "description").string,
                quantity: result.value(row, "quantity").int64 ?? 0,
                unitPrice: BigQueryText.parseDecimal(result.value(row, "unit_price").string) ?? .zero,
                revenue: BigQueryText.parseDecimal(result.value(row, "revenue").string) ?? .zero,
                time: LocalDateTime(secondsSinceEpoch: result.value(row, "seconds").int64 ?? 0),
                country: result.value(row, "country").string ?? "", customerID: result.value(row, "customer_id").string,
                isProduct: result.value(row, "is_product").bool ?? false,
                isCancellation: result.value(row, "is_cancellation").bool ?? false,
                sourceLine: result.value(row, "source_line").int64 ?? 0)
        }
    }

    /// BigQuery answers are not cached: rows may arrive from other writers at any time.
    public func reportDataVersion() throws -> String? { nil }
}
