import ETL
import Support

/// JSON of the dashboard's answers. Money is a decimal string rounded to the cent
/// (as in the summary); unit prices keep every significant digit (at least two places).
extension ReportJSON {
    static func timeSeries(_ periods: [ReportPeriod], grain: ReportGrain, filter: ReportFilter) -> [UInt8] {
        var json = JSONWriter(capacity: 64 + periods.count * 72)
        json.beginObject()
        json.field("grain", grain.rawValue)
        writeFilter(filter, into: &json)
        json.key("points")
        json.beginArray()
        for period in periods {
            json.beginObject()
            json.field("period", LocalDateTime.isoDate(dayNumber: period.startDay))
            writeFigures(period.figures, into: &json)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    static func breakdown(_ groups: [ReportGroup], by dimension: ReportDimension, filter: ReportFilter) -> [UInt8] {
        var json = JSONWriter(capacity: 64 + groups.count * 96)
        json.beginObject()
        json.field("by", dimension.rawValue)
        writeFilter(filter, into: &json)
        json.key("groups")
        json.beginArray()
        for group in groups {
            json.beginObject()
            json.field("key", group.key)
            json.field("label", group.label)
            writeFigures(group.figures, into: &json)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    /// `currency`: the one currency of every configured region, or nil when they differ.
    static func options(_ options: ReportOptions, lookerURL: String?, mode: String, currency: String?) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.field("regions", strings: options.regions)
        json.field("countries", strings: options.countries)
        json.field("first_date", options.firstDay.map { LocalDateTime.isoDate(dayNumber: $0) })
        json.field("last_date", options.lastDay.map { LocalDateTime.isoDate(dayNumber: $0) })
        json.field("mode", mode)
        json.field("currency", currency)
        json.field("looker_url", lookerURL)
        json.endObject()
        return json.bytes
    }

    static func invoices(_ page: InvoicePage, filter: ReportFilter) -> [UInt8] {
        var json = JSONWriter(capacity: 128 + page.invoices.count * 200)
        json.beginObject()
        writeFilter(filter, into: &json)
        json.field("page", page.page)
        json.field("page_size", page.pageSize)
        json.field("total", page.total)
        json.key("invoices")
        json.beginArray()
        for invoice in page.invoices {
            json.beginObject()
            json.field("region", invoice.region)
            json.field("invoice_no", invoice.invoiceNo)
            json.field("time", invoice.time.isoDateTime)
            json.field("country", invoice.country)
            json.field("customer", invoice.customerID)
            json.field("lines", invoice.lines)
            json.field("revenue", invoice.revenue.formatted(places: 2))
            json.field("is_cancellation", invoice.isCancellation)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    /// One invoice with its lines; the totals follow the report definitions (product lines only).
    static func invoice(region: String, invoiceNo: String, lines: [InvoiceLine]) -> [UInt8] {
        var revenue: Int64 = 0
        var units: Int64 = 0
        for line in lines where line.isProduct {
            revenue += line.revenue.micros
            units += line.quantity
        }
        var json = JSONWriter(capacity: 256 + lines.count * 220)
        json.beginObject()
        json.field("region", region)
        json.field("invoice_no", invoiceNo)
        json.field("time", lines.first?.time.isoDateTime)
        json.field("country", lines.first?.country)
        json.field("customer", lines.first(where: { $0.customerID != nil })?.customerID)
        json.field("is_cancellation", lines.contains(where: \.isCancellation))
        json.field("revenue", ExactDecimal(micros: revenue).formatted(places: 2))
        json.field("units", units)
        json.key("lines")
        json.beginArray()
        for line in lines {
            json.beginObject()
            json.field("stock_code", line.stockCode)
            json.field("description", line.description)
            json.field("quantity", line.quantity)
            json.field("unit_price", exactMoney(line.unitPrice))
            json.field("revenue", exactMoney(line.revenue))
            json.field("is_product", line.isProduct)
            json.field("source_line", line.sourceLine)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    /// Every significant digit, at least two places: 2.55, 0.001234.
    static func exactMoney(_ value: ExactDecimal) -> String {
        var places = 6
        var micros = value.micros.magnitude
        while places > 2 && micros % 10 == 0 {
            micros /= 10
            places -= 1
        }
        return value.formatted(places: places)
    }

    private static func writeFigures(_ figures: ReportFigures, into json: inout JSONWriter) {
        json.field("revenue", figures.revenue.formatted(places: 2))
        json.field("orders", figures.orders)
        json.field("units", figures.units)
    }

    private static func writeFilter(_ filter: ReportFilter, into json: inout JSONWriter) {
        json.key("filter")
        json.beginObject()
        json.field("region", filter.region)
        json.field("country", filter.country)
        json.field("product", filter.product)
        json.field("from", filter.fromDay.map { LocalDateTime.isoDate(dayNumber: $0) })
        json.field("to", filter.toDay.map { LocalDateTime.isoDate(dayNumber: $0) })
        json.endObject()
    }
}
