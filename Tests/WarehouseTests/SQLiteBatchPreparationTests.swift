import ETL
import Testing
@_spi(Testing) import Warehouse

/// What a load's preparer works out on the loading thread (product numbers that run over the
/// whole load, invoice lists as JSON) gives the same report tables as working it out on the
/// insert thread, after a rolled-back batch, a new numbering and invoice numbers to escape.
@Suite struct SQLiteBatchPreparationTests {
    let day = wallClock(2011, 3, 4, 10)

    func row(_ line: Int64, _ invoice: String, _ stock: String, _ description: String?, minutes: Int64 = 0,
             customer: String? = "17850") -> OrderRow {
        orderRow(line: line, invoice: invoice, stock: stock, description: description, quantity: line % 7 + 1,
                 time: LocalDateTime(secondsSinceEpoch: day.secondsSinceEpoch + minutes * 60), priceMicros: 1_250_000,
                 customer: customer, country: "United Kingdom")
    }

    func loaded(_ context: UploadContext) -> UploadRecord {
        UploadRecord(id: context.uploadID, region: context.region, fileName: "f.csv", objectURI: context.sourceURI,
                     sha256: context.uploadID, sizeBytes: 1, encoding: "utf-8", status: .loaded, currency: "GBP",
                     createdAtMicros: 1, updatedAtMicros: 2)
    }

    func expectSameProducts(_ warehouse: SQLiteWarehouse) throws {
        let filter = ReportFilter()
        #expect(try warehouse.breakdown(filter, by: .product, limit: 100) == warehouse.rowScanBreakdown(filter, by: .product, limit: 100))
        #expect(try warehouse.summary(filter) == warehouse.rowScanSummary(filter))
    }

    @Test func aRetriedBatchDoesNotUseProductNumbersOfItsRolledBackTransaction() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse(SQLiteOptions(rowsPerStatement: 3))
        let (a, b) = (context("a"), context("b"))
        let preparer = try #require(warehouse.makeBatchPreparer(for: a))
        let first = [row(1, "536365", "85123A", "WHITE HANGING HEART"), row(2, "536365", "71053", "WHITE METAL LANTERN")]
        _ = try warehouse.insert(first, for: a, prepared: preparer.prepare(first))
        // The second batch brings a new product; its transaction fails after the product was numbered.
        let second = [row(3, "536366", "85123A", "WHITE HANGING HEART", minutes: 5),
                      row(4, "536366", "22633", "HAND WARMER UNION JACK", minutes: 5)]
        let preparedSecond = preparer.prepare(second)
        try database.withOpenWrite("""
            CREATE TRIGGER refuse_chunks BEFORE INSERT ON report_chunks BEGIN SELECT RAISE(ABORT, 'refused'); END
            """) { _ in }
        #expect(throws: (any Error).self) { try warehouse.insert(second, for: a, prepared: preparedSecond) }
        try database.withOpenWrite("DROP TRIGGER refuse_chunks") { _ in }
        #expect(database.query("SELECT count(*) FROM report_products WHERE stock_code = '22633'") == [["0"]])
        // Another load now takes the dictionary number the rolled-back product had.
        let other = [row(10, "536400", "84029G", "KNITTED UNION FLAG HOT WATER BOTTLE", minutes: 9)]
        _ = try warehouse.insert(other, for: b)
        // The load sends its batch again, then one more with the same products.
        _ = try warehouse.insert(second, for: a, prepared: preparer.prepare(second))
        let third = [row(5, "536367", "22633", "HAND WARMER UNION JACK", minutes: 7),
                     row(6, "536367", "84029G", "KNITTED UNION FLAG HOT WATER BOTTLE", minutes: 7)]
        _ = try warehouse.insert(third, for: a, prepared: preparer.prepare(third))
        try warehouse.saveUpload(loaded(a))
        try warehouse.saveUpload(loaded(b))
        try expectSameProducts(warehouse)
        // Rows 4 and 5: 5 + 6 units over two orders.
        let warmers = try warehouse.breakdown(ReportFilter(), by: .product, limit: 100).filter { $0.key == "22633" }
        #expect(warmers.map(\.figures.units) == [11])
        #expect(warmers.map(\.figures.orders) == [2])
    }

    @Test func aLoadThatOutgrowsItsProductNumbersStartsAnewAndStaysExact() throws {
        let database = TemporaryDatabase()
        var options = SQLiteOptions(rowsPerStatement: 4)
        options.loadProductNumbersKept = 6
        let warehouse = try database.warehouse(options)
        let upload = context("big")
        let preparer = try #require(warehouse.makeBatchPreparer(for: upload))
        var line: Int64 = 1
        // Batches of 5 rows over 14 products, in a different order each time: numbering restarts
        // every other batch or so, and products come back under new numbers.
        for batch in 0..<9 {
            var rows: [OrderRow] = []
            for slot in 0..<5 {
                let product = (batch * 3 + slot * 5) % 14
                rows.append(row(line, "5370\(batch)", "P\(product)", product % 4 == 0 ? nil : "ITEM \(product)", minutes: Int64(batch)))
                line += 1
            }
            _ = try warehouse.insert(rows, for: upload, prepared: preparer.prepare(rows))
        }
        try warehouse.saveUpload(loaded(upload))
        try expectSameProducts(warehouse)
        #expect(database.query("SELECT count(*) FROM report_products") == [["14"]])
    }

    @Test func invoiceNumbersThatNeedEscapingAndInvoicesAcrossBatchesAreNumberedOnce() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse(SQLiteOptions(rowsPerStatement: 2))
        let upload = context("odd")
        let preparer = try #require(warehouse.makeBatchPreparer(for: upload))
        let invoices = ["5\"1", "5\\2", "5\t3", "5é4", "C5\u{1}6", "5/7", "5,8]"]
        var line: Int64 = 1
        // Each invoice has lines in two batches, the later ones a minute apart (its span widens).
        for batch in 0..<3 {
            var rows: [OrderRow] = []
            for (position, invoice) in invoices.enumerated() where (position + batch) % 3 != 0 {
                rows.append(row(line, invoice, "85123A", "WHITE HANGING HEART", minutes: Int64(batch), customer: nil))
                line += 1
            }
            _ = try warehouse.insert(rows, for: upload, prepared: preparer.prepare(rows))
        }
        try warehouse.saveUpload(loaded(upload))
        #expect(database.query("SELECT count(*), count(DISTINCT invoice_no) FROM report_invoices") == [["7", "7"]])
        let filter = ReportFilter()
        let page = try warehouse.invoices(filter, page: 1, pageSize: 20)
        #expect(page == (try warehouse.rowScanInvoices(filter, page: 1, pageSize: 20)))
        #expect(Set(page.invoices.map(\.invoiceNo)) == Set(invoices))
        for invoice in invoices {
            let lines = try warehouse.invoiceLines(region: "UK", invoiceNo: invoice)
            #expect(lines == (try warehouse.rowScanInvoiceLines(region: "UK", invoiceNo: invoice)))
            #expect(lines.count == 2, "\(invoice)")
        }
    }
}
