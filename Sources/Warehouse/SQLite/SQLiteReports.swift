// The dashboard's questions over the embedded warehouse's report tables: time series,
// breakdowns, filter choices and invoices. The numbers follow the definitions of
// `summary`; `SQLiteRowScanReports` computes the same from the rows, for checks.

import CSQLite
import ETL

/// Revenue, units and distinct orders of numbered groups.
struct GroupFigures {
    var revenue: [Int64] = []
    var units: [Int64] = []
    var orders = GroupedInvoiceCounter()

    mutating func ensure(_ group: Int) {
        orders.reserve(groups: group + 1)
        if group >= revenue.count {
            revenue.append(contentsOf: [Int64](repeating: 0, count: group - revenue.count + 1))
            units.append(contentsOf: [Int64](repeating: 0, count: group - units.count + 1))
        }
    }

    func figures(_ group: Int) -> ReportFigures {
        ReportFigures(revenue: ExactDecimal(micros: revenue[group]), orders: orders.count(of: group), units: units[group])
    }
}

extension ReportScanContext {
    @inline(__always)
    /// True for an invoice with several cells; an invoice numbered after the context was read
    /// counts as one (its cells are in no chunk of the snapshot).
    func isMulti(_ invoice: Int) -> Bool { invoice < multiInvoices.count && multiInvoices[invoice] }
}

/// True when `a` sorts before `b` byte by byte, as SQLite's BINARY collation.
func binaryOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

extension SQLiteWarehouse: ReportingWarehouse {
    public func timeSeries(_ filter: ReportFilter, grain: ReportGrain) throws -> [ReportPeriod] {
        try withReader { connection throws(WarehouseError) in
            let context = try ReportScanContext(connection, filter: filter)
            var starts: [Int64] = []
            var groupOfStart: [Int64: Int] = [:]
            var groups = GroupFigures()
            var serial = 0
            var lastDay = Int64.min
            var group = 0
            try scanCells(connection, context, decodeLines: false) { cell in
                serial += 1
                if cell.day != lastDay {
                    lastDay = cell.day
                    let start = grain.periodStart(of: cell.day)
                    if let known = groupOfStart[start] {
                        group = known
                    } else {
                        group = starts.count
                        groupOfStart[start] = group
                        starts.append(start)
                        groups.ensure(group)
                    }
                }
                groups.revenue[group] &+= cell.revenueMicros
                groups.units[group] &+= cell.units
                if !cell.cancellation {
                    groups.orders.count(group: group, invoice: cell.invoiceRef, cell: serial, multi: context.isMulti(cell.invoiceRef))
                }
            }
            return starts.indices.sorted { starts[$0] < starts[$1] }.map { ReportPeriod(startDay: starts[$0], figures: groups.figures($0)) }
        }
    }

    public func breakdown(_ filter: ReportFilter, by dimension: ReportDimension, limit: Int) throws -> [ReportGroup] {
        try withReader { connection throws(WarehouseError) in
            let context = try ReportScanContext(connection, filter: filter)
            var keys: [String] = []
            var labels: [String?] = []
            var groups = GroupFigures()
            var serial = 0
            switch dimension {
            case .region, .country:
                let texts = dimension == .region ? context.placeRegions : context.placeCountries
                var indexByText: [String: Int] = [:]
                let groupOfPlace = texts.map { text -> Int in
                    if let index = indexByText[text] { return index }
                    indexByText[text] = keys.count
                    keys.append(text)
                    return keys.count - 1
                }
                labels = [String?](repeating: nil, count: keys.count)
                groups.ensure(keys.count)
                // A group is an answer when a matching cell fell in it (its figures may all be zero).
                var present = [Bool](repeating: false, count: keys.count)
                try scanCells(connection, context, decodeLines: false) { cell in
                    serial += 1
                    let group = groupOfPlace[cell.placeRef]
                    present[group] = true
                    groups.revenue[group] &+= cell.revenueMicros
                    groups.units[group] &+= cell.units
                    if !cell.cancellation {
                        groups.orders.count(group: group, invoice: cell.invoiceRef, cell: serial, multi: context.isMulti(cell.invoiceRef))
                    }
                }
                let chosen = Self.top(keys.indices.filter { present[$0] }, revenue: groups.revenue, keys: keys, limit: limit)
                return chosen.map { ReportGroup(key: keys[$0], label: labels[$0], figures: groups.figures($0)) }
            case .product:
                return try productBreakdown(connection, context, limit: limit)
            }
        }
    }

    /// The `limit` groups with the highest revenue, ties by key (binary).
    static func top(_ candidates: [Int], revenue: [Int64], keys: [String], limit: Int) -> [Int] {
        let sorted = candidates.sorted { a, b in
            revenue[a] != revenue[b] ? revenue[a] > revenue[b] : binaryOrder(keys[a], keys[b])
        }
        return Array(sorted.prefix(max(limit, 0)))
    }

    public func reportOptions(regions allowed: [String]?) throws -> ReportOptions {
        var conditions = ["\(SQLiteReportSchema.isVisible("u.status"))"]
        if let allowed { conditions.append(SQLiteReportConditions.inList("p.region", count: allowed.count)) }
        let sql = """
            SELECT p.region, p.country, min(s.first_day), max(s.last_day)
            FROM report_upload_places s JOIN uploads u ON u.ref = s.upload_ref JOIN report_places p ON p.ref = s.place_ref
            WHERE \(conditions.joined(separator: " AND ")) GROUP BY p.ref
            """
        return try withReader { connection throws(WarehouseError) in
            let statement = try connection.cached(sql)
            defer { statement.reset() }
            for (index, region) in (allowed ?? []).enumerated() { statement.bind(region, at: Int32(index + 1)) }
            var regions = Set<String>()
            var countries = Set<String>()
            var firstDay: Int64?
            var lastDay: Int64?
            while try statement.step() {
                if let region = statement.text(0), !region.isEmpty { regions.insert(region) }
                if let country = statement.text(1), !country.isEmpty { countries.insert(country) }
                firstDay = min(firstDay ?? .max, statement.int64(2))
                lastDay = max(lastDay ?? .min, statement.int64(3))
            }
            return ReportOptions(regions: regions.sorted(by: binaryOrder), countries: countries.sorted(by: binaryOrder),
                                 firstDay: firstDay, lastDay: lastDay)
        }
    }

    /// The largest row id (rows are only ever added, so it grows with every committed load) and
    /// the number and latest change of the uploads (a load becomes visible in a change of its
    /// record). Nil for the layout without row ids.
    public func reportDataVersion() throws -> String? {
        if case .withoutRowID = options.rowLayout { return nil }
        return try withReader { connection throws(WarehouseError) in
            let statement = try connection.cached("""
                SELECT (SELECT coalesce(max(rowid), 0) FROM order_rows), (SELECT count(*) FROM uploads),
                       (SELECT coalesce(max(updated_at_micros), 0) FROM uploads)
                """)
            defer { statement.reset() }
            guard try statement.step() else { return nil }
            return "\(statement.int64(0))-\(statement.int64(1))-\(statement.int64(2))"
        }
    }
}

/// Stock codes numbered as groups, and each product's description.
struct ProductDictionary {
    var codes: [String] = []
    /// Group of each product ref.
    var groupOfProduct: [Int]
    /// Description of each product ref; nil when the rows had none.
    var descriptions: [String?]

    init(_ connection: SQLiteConnection) throws(WarehouseError) {
        let limit = Int(try connection.integer("SELECT coalesce(max(ref), 0) FROM report_products")) + 1
        groupOfProduct = [Int](repeating: 0, count: limit)
        descriptions = [String?](repeating: nil, count: limit)
        let statement = try connection.cached("SELECT ref, stock_code, description, described FROM report_products")
        defer { statement.reset() }
        var groupOfCode: [String: Int] = [:]
        while try statement.step() {
            let ref = Int(statement.int64(0))
            guard ref < limit else { continue }
            let code = statement.text(1) ?? ""
            let group: Int
            if let known = groupOfCode[code] {
                group = known
            } else {
                group = codes.count
                groupOfCode[code] = group
                codes.append(code)
            }
            groupOfProduct[ref] = group
            descriptions[ref] = statement.int64(3) != 0 ? statement.text(2) : nil
        }
    }
}
