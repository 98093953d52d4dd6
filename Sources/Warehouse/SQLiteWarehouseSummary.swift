// The report numbers over the loaded rows, with the filters of `ReportFilter`.

import ETL

extension SQLiteWarehouse {
    /// The report numbers over the rows matching the filter. Region and country compare
    /// case-insensitively (ASCII); product matches the stock code case-insensitively or
    /// text inside the description (ASCII case folding); days are inclusive.
    public func summary(_ filter: ReportFilter) throws -> ReportSummary {
        // The SQL is assembled only from the constant fragments below, one per
        // filter given; every value is bound as a parameter.
        var conditions: [String] = []
        var bindings: [(SQLiteStatement) -> Void] = []
        func add(_ condition: String, _ bind: @escaping (SQLiteStatement, Int32) -> Void) {
            let index = Int32(bindings.count + 1)
            conditions.append(condition.replacingParameter(with: index))
            bindings.append { bind($0, index) }
        }
        if let region = filter.region {
            add("u.region = ?# COLLATE NOCASE") { $0.bind(region, at: $1) }
        }
        if let country = filter.country {
            add("r.country = ?# COLLATE NOCASE") { $0.bind(country, at: $1) }
        }
        if let product = filter.product {
            add("(r.stock_code = ?# COLLATE NOCASE OR instr(lower(r.description), lower(?#)) > 0)") { $0.bind(product, at: $1) }
        }
        if let fromDay = filter.fromDay {
            add("r.invoice_day >= ?#") { $0.bind(fromDay, at: $1) }
        }
        if let toDay = filter.toDay {
            add("r.invoice_day <= ?#") { $0.bind(toDay, at: $1) }
        }
        let sql = """
            SELECT
                coalesce(sum(CASE WHEN r.is_product THEN r.revenue_micros END), 0),
                count(DISTINCT CASE WHEN NOT r.is_cancellation THEN u.region || char(31) || r.invoice_no END),
                count(DISTINCT CASE WHEN r.is_cancellation THEN u.region || char(31) || r.invoice_no END),
                coalesce(sum(CASE WHEN r.is_product THEN r.quantity END), 0),
                count(DISTINCT r.customer_id)
            FROM order_rows r JOIN uploads u ON u.ref = r.upload_ref
            """ + (conditions.isEmpty ? "" : "\nWHERE " + conditions.joined(separator: " AND "))
        return try withReader { connection throws(WarehouseError) in
            let statement = try connection.cached(sql)
            for bind in bindings { bind(statement) }
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

extension String {
    /// Replaces each `?#` placeholder with the numbered parameter `?index`.
    fileprivate func replacingParameter(with index: Int32) -> String {
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: "?#") {
            result += rest[..<range.lowerBound]
            result += "?\(index)"
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
