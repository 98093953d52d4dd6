// The report numbers over the loaded rows, with the filters of `ReportFilter`.

import ETL

extension SQLiteWarehouse {
    /// The report numbers over the rows matching the filter. Region and country compare
    /// case-insensitively (ASCII); product matches the stock code case-insensitively or
    /// text inside the description (ASCII case folding); days are inclusive.
    public func summary(_ filter: ReportFilter) throws -> ReportSummary {
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
