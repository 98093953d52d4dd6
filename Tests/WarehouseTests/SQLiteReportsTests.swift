import ETL
import Testing
import Warehouse

/// The dashboard's answers over the hand-made rows of `ukRows` and `inRows`
/// (every expected figure worked out by hand in the comments).
@Suite struct SQLiteReportsTests {
    let database = TemporaryDatabase()
    let warehouse: SQLiteWarehouse

    init() throws {
        warehouse = try database.warehouse()
        try warehouse.load(ukRows, for: context("uk-upload", region: "UK"))
        try warehouse.load(inRows, for: context("in-upload", region: "IN"))
    }

    func figures(_ revenueMicros: Int64, _ orders: Int, _ units: Int64) -> ReportFigures {
        ReportFigures(revenue: ExactDecimal(micros: revenueMicros), orders: orders, units: units)
    }

    @Test func dailySeriesSplitsRevenueOrdersAndUnitsByInvoiceDay() throws {
        let series = try warehouse.timeSeries(ReportFilter(), grain: .day)
        #expect(series == [
            // 15.30 + 20.34 + 11.10; UK 536365 and 536366; 6 + 6 + 6.
            ReportPeriod(startDay: dayNumber(2010, 12, 1), figures: figures(46_740_000, 2, 18)),
            // The cancellation (−5.10, −2); postage is no product but 536367 is an order.
            ReportPeriod(startDay: dayNumber(2010, 12, 2), figures: figures(-5_100_000, 1, -2)),
            // 90.00 + 2.95; UK 536370 and IN 536365 (same number, other region).
            ReportPeriod(startDay: dayNumber(2010, 12, 3), figures: figures(92_950_000, 2, 25)),
            ReportPeriod(startDay: dayNumber(2010, 12, 4), figures: figures(-1_850_000, 0, -1)),
        ])
    }

    @Test func weeksStartOnMondayAndMonthsOnTheFirst() throws {
        // 2010-12-01 is a Wednesday: its week starts on Monday 2010-11-29; all four days share it.
        let everything = figures(132_740_000, 5, 40)
        #expect(try warehouse.timeSeries(ReportFilter(), grain: .week) == [ReportPeriod(startDay: dayNumber(2010, 11, 29), figures: everything)])
        #expect(try warehouse.timeSeries(ReportFilter(), grain: .month) == [ReportPeriod(startDay: dayNumber(2010, 12, 1), figures: everything)])
        #expect(ReportGrain.week.periodStart(of: dayNumber(2010, 12, 5)) == dayNumber(2010, 11, 29))
        #expect(ReportGrain.week.periodStart(of: dayNumber(2010, 12, 6)) == dayNumber(2010, 12, 6))
        #expect(ReportGrain.week.periodStart(of: dayNumber(1969, 12, 31)) == dayNumber(1969, 12, 29))
        #expect(ReportGrain.month.periodStart(of: dayNumber(2012, 2, 29)) == dayNumber(2012, 2, 1))
    }

    @Test func seriesFollowsTheFilters() throws {
        let filter = ReportFilter(region: "uk", product: "heart")
        #expect(try warehouse.timeSeries(filter, grain: .day) == [
            ReportPeriod(startDay: dayNumber(2010, 12, 1), figures: figures(15_300_000, 1, 6)),
            ReportPeriod(startDay: dayNumber(2010, 12, 2), figures: figures(-5_100_000, 0, -2)),
        ])
        #expect(try warehouse.timeSeries(ReportFilter(region: "US"), grain: .month) == [])
    }

    @Test func seriesAndBreakdownsAddUpToTheSummary() throws {
        let filters = [ReportFilter(), ReportFilter(region: "UK"), ReportFilter(country: "France"),
                       ReportFilter(product: "85123a"), ReportFilter(fromDay: dayNumber(2010, 12, 2), toDay: dayNumber(2010, 12, 3))]
        for filter in filters {
            let summary = try warehouse.summary(filter)
            for grain in ReportGrain.allCases {
                let periods = try warehouse.timeSeries(filter, grain: grain)
                #expect(periods.reduce(0) { $0 + $1.figures.revenue.micros } == summary.revenue.micros)
                #expect(periods.reduce(0) { $0 + $1.figures.units } == summary.units)
            }
            for dimension in ReportDimension.allCases {
                let groups = try warehouse.breakdown(filter, by: dimension, limit: 100)
                #expect(groups.reduce(0) { $0 + $1.figures.revenue.micros } == summary.revenue.micros)
            }
            // An order belongs to one region, so region orders add up exactly.
            #expect(try warehouse.breakdown(filter, by: .region, limit: 100).reduce(0) { $0 + $1.figures.orders } == summary.orders)
        }
    }

    @Test func breakdownsRankByRevenueAndHonourTheLimit() throws {
        #expect(try warehouse.breakdown(ReportFilter(), by: .region, limit: 10) == [
            ReportGroup(key: "UK", figures: figures(131_640_000, 4, 40)),
            ReportGroup(key: "IN", figures: figures(1_100_000, 1, 0)),
        ])
        #expect(try warehouse.breakdown(ReportFilter(), by: .country, limit: 10) == [
            ReportGroup(key: "France", figures: figures(90_000_000, 2, 24)),
            // 15.30 + 20.34 + 11.10 − 5.10
            ReportGroup(key: "United Kingdom", figures: figures(41_640_000, 2, 16)),
            ReportGroup(key: "India", figures: figures(1_100_000, 1, 0)),
        ])
        #expect(try warehouse.breakdown(ReportFilter(), by: .product, limit: 2) == [
            ReportGroup(key: "22728", label: "ALARM CLOCK BAKELIKE PINK", figures: figures(90_000_000, 1, 24)),
            ReportGroup(key: "71053", label: "WHITE METAL LANTERN", figures: figures(20_340_000, 1, 6)),
        ])
        // 85123A across both regions: 15.30 − 5.10 + 2.95, two orders (UK and IN 536365).
        let heart = try warehouse.breakdown(ReportFilter(product: "85123A"), by: .product, limit: 5)
        #expect(heart.map(\.key) == ["85123A"])
        #expect(heart.first?.figures == figures(13_150_000, 2, 5))
        #expect(try warehouse.breakdown(ReportFilter(country: "India"), by: .region, limit: 5).map(\.key) == ["IN"])
    }

    @Test func optionsListRegionsCountriesAndTheDateSpan() throws {
        let options = try warehouse.reportOptions()
        #expect(options == ReportOptions(regions: ["IN", "UK"], countries: ["France", "India", "United Kingdom"],
                                         firstDay: dayNumber(2010, 12, 1), lastDay: dayNumber(2010, 12, 4)))
        let emptyDatabase = TemporaryDatabase()
        let empty = try emptyDatabase.warehouse().reportOptions()
        #expect(empty == ReportOptions(regions: [], countries: [], firstDay: nil, lastDay: nil))
    }

    @Test func scopedOptionsLeaveNoReaderBehindAndLaterRowsAreSeenByEveryone() throws {
        // Asked on every read connection, so none may keep an old snapshot.
        for _ in 0..<8 { #expect(try warehouse.reportOptions(regions: ["IN"]).regions == ["IN"]) }
        #expect(try warehouse.reportOptions(regions: []).regions.isEmpty)
        let before = try warehouse.summary(ReportFilter()).orders
        try warehouse.load(ukRows.map { row in
            var later = row
            later.invoiceNo = "9" + row.invoiceNo
            later.rowKey.low ^= 0xFFFF
            return later
        }, for: context("later-upload", region: "UK"))
        for _ in 0..<8 { #expect(try warehouse.summary(ReportFilter()).orders > before) }
    }

    @Test func invoicesComeNewestFirstInPages() throws {
        let first = try warehouse.invoices(ReportFilter(), page: 1, pageSize: 3)
        #expect(first.total == 7)
        #expect(first.invoices.map { "\($0.region)/\($0.invoiceNo)" } == ["IN/C536400", "IN/536365", "UK/536370"])
        #expect(first.invoices[0] == InvoiceOverview(
            region: "IN", invoiceNo: "C536400", time: wallClock(2010, 12, 4, 12, 0), country: "India", customerID: "99999",
            lines: 1, revenue: ExactDecimal(micros: -1_850_000), isCancellation: true))
        let second = try warehouse.invoices(ReportFilter(), page: 2, pageSize: 3)
        #expect(second.invoices.map(\.invoiceNo) == ["C536379", "536367", "536366"])
        let last = try warehouse.invoices(ReportFilter(), page: 3, pageSize: 3)
        #expect(last.invoices.map { "\($0.region)/\($0.invoiceNo)" } == ["UK/536365"])
        #expect(last.invoices.first?.lines == 2 && last.invoices.first?.revenue == ExactDecimal(micros: 35_640_000))
        #expect(try warehouse.invoices(ReportFilter(), page: 4, pageSize: 3).invoices.isEmpty)
    }

    @Test func invoicesFollowTheFilters() throws {
        let france = try warehouse.invoices(ReportFilter(region: "UK", country: "france"), page: 1, pageSize: 10)
        #expect(france.total == 2)
        // Postage only: an order with no product revenue.
        #expect(france.invoices.map(\.invoiceNo) == ["536370", "536367"])
        #expect(france.invoices[1].revenue == .zero && france.invoices[1].customerID == "12583")
        #expect(france.invoices[0].customerID == nil)
    }

    @Test func anInvoiceListsItsLinesInFileOrderWithinItsRegionOnly() throws {
        let lines = try warehouse.invoiceLines(region: "uk", invoiceNo: "536365")
        #expect(lines.map(\.stockCode) == ["85123A", "71053"])
        #expect(lines[1] == InvoiceLine(
            stockCode: "71053", description: "WHITE METAL LANTERN", quantity: 6, unitPrice: ExactDecimal(micros: 3_390_000),
            revenue: ExactDecimal(micros: 20_340_000), time: wallClock(2010, 12, 1, 8, 26), country: "United Kingdom",
            customerID: "17850", isProduct: true, isCancellation: false, sourceLine: 3))
        #expect(try warehouse.invoiceLines(region: "IN", invoiceNo: "536365").map(\.unitPrice) == [ExactDecimal(micros: 2_950_000)])
        #expect(try warehouse.invoiceLines(region: "UK", invoiceNo: "' OR 1=1 --").isEmpty)
    }

    @Test func theDataVersionChangesWhenRowsArrive() throws {
        let before = try warehouse.reportDataVersion()
        #expect(before != nil)
        #expect(try warehouse.reportDataVersion() == before)
        let late = orderRow(line: 9, invoice: "536999", stock: "22728", description: "ALARM CLOCK BAKELIKE PINK", quantity: 1,
                            time: wallClock(2010, 12, 9, 9, 0), priceMicros: 3_750_000, customer: nil, country: "France")
        try warehouse.load([late], for: context("late-upload", region: "UK"))
        #expect(try warehouse.reportDataVersion() != before)
    }
}
