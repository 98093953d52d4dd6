import ETL
import Foundation
import Testing
@testable import Warehouse

@Suite struct SQLiteSummaryTests {
    let database = TemporaryDatabase()
    let warehouse: SQLiteWarehouse

    init() throws {
        warehouse = try database.warehouse()
        try warehouse.load(ukRows, for: context("uk-upload", region: "UK"))
        try warehouse.load(inRows, for: context("in-upload", region: "IN"))
    }

    func summary(_ revenueMicros: Int64, _ orders: Int, _ cancellations: Int, _ units: Int64, _ customers: Int) -> ReportSummary {
        ReportSummary(revenue: ExactDecimal(micros: revenueMicros), orders: orders, cancellations: cancellations,
                      units: units, customers: customers)
    }

    @Test func everythingUnfiltered() throws {
        // Revenue over product lines: 15.30 + 20.34 + 11.10 − 5.10 + 90.00 + 2.95 − 1.85 (postage excluded).
        // Orders: UK 536365, 536366, 536367, 536370 and IN 536365. Cancellations: UK C536379, IN C536400.
        // Units: 6 + 6 + 6 − 2 + 24 + 1 − 1. Customers: 17850, 12583, 14527, 99999.
        #expect(try warehouse.summary(ReportFilter()) == summary(132_740_000, 5, 2, 40, 4))
    }

    @Test func regionFilterIgnoresCase() throws {
        #expect(try warehouse.summary(ReportFilter(region: "uk")) == summary(131_640_000, 4, 1, 40, 3))
        #expect(try warehouse.summary(ReportFilter(region: "IN")) == summary(1_100_000, 1, 1, 0, 2))
        #expect(try warehouse.summary(ReportFilter(region: "US")) == summary(0, 0, 0, 0, 0))
    }

    @Test func countryFilterIgnoresCase() throws {
        // Postage (not a product) and the alarm clocks.
        #expect(try warehouse.summary(ReportFilter(country: "france")) == summary(90_000_000, 2, 0, 24, 1))
    }

    @Test func productFilterMatchesStockCodeOrDescription() throws {
        // Stock code 85123A in both regions: 15.30 − 5.10 + 2.95.
        #expect(try warehouse.summary(ReportFilter(product: "85123a")) == summary(13_150_000, 2, 1, 5, 2))
        // The same rows by a word of the description, in another case.
        #expect(try warehouse.summary(ReportFilter(product: "Heart")) == summary(13_150_000, 2, 1, 5, 2))
        #expect(try warehouse.summary(ReportFilter(product: "hand warmer")) == summary(9_250_000, 1, 1, 5, 2))
        // Stock code equality, not a prefix: "8512" is in no description.
        #expect(try warehouse.summary(ReportFilter(product: "8512")) == summary(0, 0, 0, 0, 0))
    }

    @Test func productFilterTreatsWildcardsAndQuotesAsText() throws {
        #expect(try warehouse.summary(ReportFilter(product: "%")) == summary(0, 0, 0, 0, 0))
        #expect(try warehouse.summary(ReportFilter(product: "_")) == summary(0, 0, 0, 0, 0))
        #expect(try warehouse.summary(ReportFilter(product: "' OR 1=1 --")) == summary(0, 0, 0, 0, 0))
        // A hyphen is in one description.
        #expect(try warehouse.summary(ReportFilter(product: "t-light")).orders == 1)
    }

    @Test func dateRangeIsInclusive() throws {
        let filter = ReportFilter(fromDay: dayNumber(2010, 12, 2), toDay: dayNumber(2010, 12, 3))
        // Postage, the UK cancellation, the alarm clocks and the IN order: −5.10 + 90.00 + 2.95.
        #expect(try warehouse.summary(filter) == summary(87_850_000, 3, 1, 23, 3))
        #expect(try warehouse.summary(ReportFilter(fromDay: dayNumber(2010, 12, 4))) == summary(-1_850_000, 0, 1, -1, 1))
        #expect(try warehouse.summary(ReportFilter(toDay: dayNumber(2010, 12, 1))) == summary(46_740_000, 2, 0, 18, 1))
    }

    @Test func filtersCombine() throws {
        let filter = ReportFilter(region: "UK", country: "United Kingdom", fromDay: dayNumber(2010, 12, 2))
        #expect(try warehouse.summary(filter) == summary(-5_100_000, 0, 1, -2, 1))
        let all = ReportFilter(region: "UK", country: "France", product: "alarm", fromDay: dayNumber(2010, 12, 1), toDay: dayNumber(2010, 12, 31))
        #expect(try warehouse.summary(all) == summary(90_000_000, 1, 0, 24, 0))
    }
}

/// Date filters ride on the row-key index (keys lead with the invoice time) and stay exact.
@Suite struct SQLiteDateRangeTests {
    @Test func aDateRangeIsAKeyRangeOnTheUniqueIndex() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        try warehouse.load(ukRows, for: context("uk-upload"))
        let conditions = SQLiteReportConditions(ReportFilter(fromDay: 14_945, toDay: 14_950))
        let plan = database.query(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM order_rows r JOIN uploads u ON u.ref = r.upload_ref"
                + conditions.whereClause().replacingOccurrences(of: "?", with: "x'00'"))
        #expect(plan.contains { row in row.contains { $0?.contains("order_rows_by_key (row_key>? AND row_key<?)") == true } },
                "plan: \(plan)")
        // And no index of days slows the inserts.
        #expect(database.query("SELECT name FROM sqlite_master WHERE name = 'order_rows_by_day'").isEmpty)
    }

    @Test func rowsBefore1970AreCountedExactly() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        let old = orderRow(line: 2, invoice: "1", stock: "A", description: nil, quantity: 1,
                           time: wallClock(1969, 12, 31, 12), priceMicros: 1_000_000, customer: nil, country: "UK")
        let new = orderRow(line: 3, invoice: "2", stock: "A", description: nil, quantity: 1,
                           time: wallClock(1970, 1, 2, 12), priceMicros: 2_000_000, customer: nil, country: "UK")
        try warehouse.load([old, new], for: context("u"))
        let day = { (y: Int64, m: Int64, d: Int64) in wallClock(y, m, d).dayNumber }
        #expect(try warehouse.summary(ReportFilter(fromDay: day(1969, 12, 31), toDay: day(1970, 1, 2))).revenue.micros == 3_000_000)
        #expect(try warehouse.summary(ReportFilter(toDay: day(1970, 1, 1))).revenue.micros == 1_000_000)
        #expect(try warehouse.summary(ReportFilter(fromDay: day(1970, 1, 1), toDay: day(1970, 1, 2))).revenue.micros == 2_000_000)
    }
}
