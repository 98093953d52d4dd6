import ETL
import HTTPServer
import Support

/// Reads report filters from a query string.
enum ReportQuery {
    /// `region`, `country`, `product`, `from`, `to` (YYYY-MM-DD, inclusive); blank values are no filter.
    static func filter(from head: HTTPRequestHead) throws -> ReportFilter {
        func value(_ name: String) -> String? {
            guard let text = head.queryValue(name)?.trimmingSpaces(), !text.isEmpty else { return nil }
            return text
        }
        func day(_ name: String) throws -> Int64? {
            guard let text = value(name) else { return nil }
            guard let day = LocalDateTime.parseISODate(text) else {
                throw PortalError.badRequest(code: "bad_date", message: "\(name) must be a date as YYYY-MM-DD, not \"\(text)\"")
            }
            return day
        }
        let filter = ReportFilter(
            region: value("region")?.uppercased(), country: value("country"), product: value("product"),
            fromDay: try day("from"), toDay: try day("to"))
        if let from = filter.fromDay, let to = filter.toDay, from > to {
            throw PortalError.badRequest(code: "bad_range", message: "from must not be after to")
        }
        return filter
    }
}

/// JSON of report answers. Money is a decimal string.
enum ReportJSON {
    static func summary(_ summary: ReportSummary, filter: ReportFilter) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.field("revenue", summary.revenue.formatted(places: 2))
        json.field("orders", summary.orders)
        json.field("cancellations", summary.cancellations)
        json.field("units", summary.units)
        json.field("customers", summary.customers)
        json.field("average_order_value", averageOrderValue(summary))
        json.key("filter")
        json.beginObject()
        json.field("region", filter.region)
        json.field("country", filter.country)
        json.field("product", filter.product)
        json.field("from", filter.fromDay.map { LocalDateTime(secondsSinceEpoch: $0 * 86_400).isoDate })
        json.field("to", filter.toDay.map { LocalDateTime(secondsSinceEpoch: $0 * 86_400).isoDate })
        json.endObject()
        json.endObject()
        return json.bytes
    }

    /// Revenue / orders, rounded half away from zero to the cent; "0.00" without orders.
    static func averageOrderValue(_ summary: ReportSummary) -> String {
        guard summary.orders > 0 else { return ExactDecimal.zero.formatted(places: 2) }
        let micros = summary.revenue.micros
        let orders = Int64(summary.orders)
        var quotient = micros / orders
        let remainder = micros % orders
        if abs(remainder) * 2 >= orders { quotient += micros < 0 ? -1 : 1 }
        return ExactDecimal(micros: quotient).formatted(places: 2)
    }
}
