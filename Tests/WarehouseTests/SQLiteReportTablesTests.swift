import ETL
import Testing
@_spi(Testing) import Warehouse

/// A small deterministic generator (SplitMix64), so a failing case can be run again.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The report tables answer every question exactly as a recomputation from the rows does,
/// after loads with duplicates, resumed and split batches, cancellations, non-product lines,
/// invoices spread over times, countries and uploads, rows before 1970, unfinished loads and
/// retractions, for random filters.
@Suite(.serialized) struct SQLiteReportTablesTests {
    static let countries = ["United Kingdom", "France", "france", "EIRE", ""]
    static let products: [(code: String, description: String?, isProduct: Bool)] = [
        ("85123A", "WHITE HANGING HEART", true), ("85123A", "white heart", true), ("85123A", nil, true),
        ("71053", "WHITE METAL LANTERN", true), ("POST", "POSTAGE", false), ("D", nil, false),
        ("22633", "HAND WARMER 50% OFF", true), ("84029G", "KNITTED_UNION FLAG", true), ("21730", "", true),
    ]
    static let times: [Int64] = [
        wallClock(1969, 12, 31, 23).secondsSinceEpoch, wallClock(1970, 1, 1, 0, 30).secondsSinceEpoch,
        wallClock(2010, 12, 1, 8, 26).secondsSinceEpoch, wallClock(2010, 12, 1, 17).secondsSinceEpoch,
        wallClock(2010, 12, 5, 9).secondsSinceEpoch, wallClock(2010, 12, 31, 23, 59).secondsSinceEpoch,
        wallClock(2011, 1, 3, 10).secondsSinceEpoch, wallClock(2011, 2, 28, 12).secondsSinceEpoch,
        wallClock(2012, 2, 29, 12).secondsSinceEpoch,
    ]

    /// Rows of one upload: invoices from a small shared pool, so they meet across uploads and regions.
    static func rows(_ count: Int, keyRegion: UInt64, firstLine: Int64, random: inout SeededGenerator) -> [OrderRow] {
        var rows: [OrderRow] = []
        var line = firstLine
        while rows.count < count {
            let cancelled = Int.random(in: 0..<6, using: &random) == 0
            let invoice = (cancelled ? "C" : "") + "5\(Int.random(in: 0..<40, using: &random))"
            var time = times.randomElement(using: &random)!
            var country = countries.randomElement(using: &random)!
            let customer: String? = Bool.random(using: &random) ? nil : "1\(Int.random(in: 0..<6, using: &random))"
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                // Now and then a line of the invoice at another time or in another country.
                if Int.random(in: 0..<8, using: &random) == 0 { time = times.randomElement(using: &random)! }
                if Int.random(in: 0..<10, using: &random) == 0 { country = countries.randomElement(using: &random)! }
                let product = products.randomElement(using: &random)!
                let quantity = Int64.random(in: 1...24, using: &random) * (cancelled ? -1 : 1)
                rows.append(orderRow(
                    line: line, invoice: invoice, stock: product.code, description: product.description, quantity: quantity,
                    time: LocalDateTime(secondsSinceEpoch: time), priceMicros: Int64.random(in: 0...9, using: &random) * 410_000,
                    customer: customer, country: country, isProduct: product.isProduct, region: keyRegion))
                line += 1
            }
        }
        return rows
    }

    static func randomFilter(_ random: inout SeededGenerator) -> ReportFilter {
        let days = times.map { LocalDateTime(secondsSinceEpoch: $0).dayNumber }
        var filter = ReportFilter()
        filter.region = [nil, nil, "UK", "uk", "IN", "XX"].randomElement(using: &random)!
        filter.country = [nil, nil, "france", "United Kingdom", "EIRE", "Nowhere"].randomElement(using: &random)!
        filter.product = [nil, nil, nil, "heart", "POST", "85123a", "%", "_", "50%", "lantern", "zzz"].randomElement(using: &random)!
        if Bool.random(using: &random) { filter.fromDay = days.randomElement(using: &random)! + Int64.random(in: -1...1, using: &random) }
        if Bool.random(using: &random) { filter.toDay = days.randomElement(using: &random)! + Int64.random(in: -1...1, using: &random) }
        filter.allowedRegions = [nil, nil, ["UK"], ["IN"], ["UK", "IN"], []].randomElement(using: &random)!
        return filter
    }

    /// Every question of `filter`, from the report tables and from the rows.
    func expectSameAnswers(_ warehouse: SQLiteWarehouse, _ filter: ReportFilter, _ note: String) throws {
        func same<Answer: Equatable>(_ tables: Answer, _ rows: Answer, _ question: String) {
            #expect(tables == rows, "\(question) \(note) \(filter)\n tables: \(tables)\n rows:   \(rows)")
        }
        same(try warehouse.summary(filter), try warehouse.rowScanSummary(filter), "summary")
        for grain in ReportGrain.allCases {
            same(try warehouse.timeSeries(filter, grain: grain), try warehouse.rowScanTimeSeries(filter, grain: grain), "\(grain) series")
        }
        for dimension in ReportDimension.allCases {
            for limit in [2, 1000] {
                same(try warehouse.breakdown(filter, by: dimension, limit: limit),
                     try warehouse.rowScanBreakdown(filter, by: dimension, limit: limit), "\(dimension) breakdown of \(limit)")
            }
        }
        for (page, size) in [(1, 7), (2, 7), (3, 7), (1, 1), (5, 1), (3, 4), (40, 1)] {
            let invoices = try warehouse.invoices(filter, page: page, pageSize: size)
            same(invoices, try warehouse.rowScanInvoices(filter, page: page, pageSize: size), "invoices page \(page) of \(size)")
            for invoice in invoices.invoices {
                same(try warehouse.invoiceLines(region: invoice.region, invoiceNo: invoice.invoiceNo),
                     try warehouse.rowScanInvoiceLines(region: invoice.region, invoiceNo: invoice.invoiceNo),
                     "lines of \(invoice.region) \(invoice.invoiceNo)")
            }
        }
        same(try warehouse.reportOptions(regions: filter.allowedRegions), try warehouse.rowScanOptions(regions: filter.allowedRegions),
             "options")
    }

    func record(_ context: UploadContext, _ status: UploadStatus) -> UploadRecord {
        UploadRecord(id: context.uploadID, region: context.region, fileName: "f.csv", objectURI: context.sourceURI,
                     sha256: context.uploadID, sizeBytes: 1, encoding: "utf-8", status: status, currency: "GBP",
                     createdAtMicros: 1, updatedAtMicros: 2)
    }

    @Test(arguments: 1...8)
    func reportTablesEqualARecomputationFromTheRows(seed: UInt64) throws {
        var random = SeededGenerator(state: seed)
        let database = TemporaryDatabase()
        // Small statements, so ignored rows fall in several of them.
        let warehouse = try database.warehouse(SQLiteOptions(rowsPerStatement: 7))
        var contexts: [(context: UploadContext, rows: [OrderRow])] = []
        for index in 0..<6 {
            let region = ["UK", "IN", "UK", "uk", "UK", "IN"][index]
            let context = context("u\(index)", region: region)
            var rows = Self.rows(Int.random(in: 20...60, using: &random), keyRegion: UInt64(index % 3),
                                 firstLine: Int64(index) * 1000, random: &random)
            // Some rows repeat rows of an earlier upload of the same key space (skipped as present).
            if index >= 3 { rows += contexts[index - 3].rows.prefix(5) }
            // Stored in several batches, one of them sent twice (a resumed load).
            let cut = rows.count / 2
            _ = try warehouse.insert(Array(rows[..<cut]), for: context)
            _ = try warehouse.insert(Array(rows[..<cut]), for: context)
            // The rest as a load sends it: grouped beforehand on the loading thread, by one preparer
            // whose product numbers run from batch to batch (one batch sent twice).
            let preparer = try #require(warehouse.makeBatchPreparer(for: context))
            let rest = Array(rows[cut...])
            let middle = cut + rest.count / 2
            for part in [Array(rows[cut..<middle]), Array(rows[cut..<middle]), Array(rows[middle...])] {
                _ = try warehouse.insert(part, for: context, prepared: preparer.prepare(part))
            }
            contexts.append((context, rows))
        }
        // u0–u3 finished, u4 still loading, u5 failed: only finished loads are seen.
        for entry in contexts.prefix(4) { try warehouse.saveUpload(record(entry.context, .loaded)) }
        try warehouse.saveUpload(record(contexts[4].context, .loading))
        try warehouse.saveUpload(record(contexts[5].context, .failed))
        // The case the tables handle apart: invoices with lines at several times, places or uploads.
        #expect(database.query("SELECT count(*) > 0 FROM report_invoices WHERE multi = 1") == [["1"]])
        for round in 0..<25 { try expectSameAnswers(warehouse, Self.randomFilter(&random), "seed \(seed) round \(round)") }

        // u1 taken back; u4 finishes.
        try warehouse.saveUpload(record(contexts[1].context, .retracting))
        #expect(try warehouse.removeRows(ofUpload: "u1", batchRows: 16) { _ in } > 0)
        try warehouse.saveUpload(record(contexts[1].context, .retracted))
        try warehouse.saveUpload(record(contexts[4].context, .loaded))
        for round in 0..<25 { try expectSameAnswers(warehouse, Self.randomFilter(&random), "seed \(seed) after round \(round)") }
        try expectSameAnswers(warehouse, ReportFilter(), "seed \(seed) unfiltered")
        #expect(database.query("SELECT count(*) FROM report_chunks c JOIN uploads u ON u.ref = c.upload_ref WHERE u.id = 'u1'") == [["0"]])
    }

    @Test func anUploadIsSeenWholeOnlyOnceItsLoadIsRecordedFinished() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        var random = SeededGenerator(state: 9)
        let rows = Self.rows(200, keyRegion: 1, firstLine: 2, random: &random)
        let upload = context("whole")
        _ = try warehouse.insert(Array(rows[..<100]), for: upload)
        #expect(try warehouse.summary(ReportFilter()) == ReportSummary(revenue: .zero, orders: 0, cancellations: 0, units: 0, customers: 0))
        #expect(try warehouse.reportOptions().regions == [])
        _ = try warehouse.insert(Array(rows[100...]), for: upload)
        try warehouse.saveUpload(record(upload, .loaded))
        let expected = rows.filter(\.isProduct).reduce(Int64(0)) { $0 + $1.revenue.micros }
        #expect(try warehouse.summary(ReportFilter()).revenue.micros == expected)
        #expect(try warehouse.summary(ReportFilter()) == warehouse.rowScanSummary(ReportFilter()))
    }

    @Test func aDatabaseMadeBeforeTheReportTablesGetsThemFromItsRows() throws {
        let database = TemporaryDatabase()
        var random = SeededGenerator(state: 11)
        do {
            let warehouse = try database.warehouse()
            _ = try warehouse.load(Self.rows(120, keyRegion: 1, firstLine: 2, random: &random), for: context("old", region: "UK"))
            _ = try warehouse.load(Self.rows(80, keyRegion: 2, firstLine: 2, random: &random), for: context("older", region: "IN"))
        }
        // As a database of the earlier version: no report tables.
        try database.withOpenWrite("""
            DROP TABLE report_chunks; DROP TABLE report_invoices; DROP TABLE report_places; DROP TABLE report_products;
            DROP TABLE report_customers; DROP TABLE report_upload_places; DROP TABLE report_meta
            """) { _ in }
        #expect(database.query("SELECT count(*) FROM sqlite_master WHERE name = 'report_chunks'") == [["0"]])
        let reopened = try database.warehouse()
        #expect(database.query("SELECT count(*) > 0 FROM report_chunks") == [["1"]])
        for round in 0..<10 { try expectSameAnswers(reopened, Self.randomFilter(&random), "rebuilt round \(round)") }
        try expectSameAnswers(reopened, ReportFilter(), "rebuilt unfiltered")
        // Tables of another layout are built again too.
        try database.withOpenWrite("UPDATE report_meta SET version = version + 100; DELETE FROM report_chunks") { _ in }
        let again = try database.warehouse()
        #expect(database.query("SELECT version FROM report_meta") == [["1"]])
        try expectSameAnswers(again, ReportFilter(), "rebuilt from another layout")
        #expect(try again.summary(ReportFilter()).orders > 0)
    }
}
