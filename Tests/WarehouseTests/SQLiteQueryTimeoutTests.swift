import ETL
import Testing
@_spi(Testing) @testable import Warehouse

/// A report question over its time budget is stopped and says so; the connection serves the
/// next question as usual.
@Suite struct SQLiteQueryTimeoutTests {
    @Test func aQuestionOverItsBudgetIsStoppedWithTimedOut() throws {
        let database = TemporaryDatabase()
        let loader = try database.warehouse()
        let rows = (0..<60_000).map {
            BigQueryWarehouseEmulatorTests.row(UInt64($0), invoice: "5\($0 / 3)", stock: "S\($0 % 500)", quantity: 1, price: 1_000_000)
        }
        // Stored in 60 batches: the report tables read them as 60 chunks.
        for start in stride(from: 0, to: rows.count, by: 1000) {
            _ = try loader.insert(Array(rows[start..<start + 1000]), for: context("big", region: "UK"))
        }
        try loader.finishLoad(context("big", region: "UK"))

        var tight = SQLiteOptions()
        tight.queryTimeoutMilliseconds = 1
        let impatient = try database.warehouse(tight)
        // A product search through every line of the report tables, and the same question asked
        // of the rows (stopped inside SQLite): both far over 1 ms.
        #expect(throws: WarehouseError.timedOut(1)) {
            _ = try impatient.invoices(ReportFilter(product: "1"), page: 1, pageSize: 25)
        }
        #expect(throws: WarehouseError.timedOut(1)) {
            _ = try impatient.rowScanInvoices(ReportFilter(product: "nothing like this"), page: 1, pageSize: 25)
        }
        #expect(WarehouseError.timedOut(1).code == "query_timeout")

        var generous = SQLiteOptions()
        generous.queryTimeoutMilliseconds = 60_000
        let patient = try database.warehouse(generous)
        #expect(try patient.invoices(ReportFilter(), page: 1, pageSize: 25).total == 20_000)
        // The connection that was interrupted answers a question within its budget afterwards.
        #expect(try impatient.reportOptions(regions: []).regions.isEmpty)
    }
}
