import ETL
import Foundation
import GoogleCloud
import Testing
@testable import Warehouse

/// The BigQuery warehouse against the local emulator (scripts/emulators.sh start).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["BIGQUERY_EMULATOR_HOST"].map { !$0.isEmpty } ?? false,
                "BIGQUERY_EMULATOR_HOST is not set: run scripts/emulators.sh start"))
struct BigQueryWarehouseEmulatorTests {
    static func warehouse() throws -> BigQueryWarehouse {
        GoogleCloud.globalInit()
        var settings = BigQueryWarehouseSettings()
        settings.dataset = "wh_\(UInt32.random(in: 0...UInt32.max))"
        let client = try BigQueryClient(project: "test-project", credentials: AnonymousCredentials())
        let warehouse = BigQueryWarehouse(client: client, settings: settings)
        try warehouse.prepare()
        try warehouse.prepare()
        try warehouse.checkReady()
        return warehouse
    }

    static func row(_ n: UInt64, invoice: String, stock: String = "85123A", quantity: Int64, price: Int64,
                    customer: String? = "17850", product: Bool = true, day: Int64 = 14_944) -> OrderRow {
        OrderRow(rowKey: RowKey(high: UInt64(day) * 86_400, low: n), invoiceNo: invoice, stockCode: stock,
                 description: "WHITE HANGING HEART", quantity: quantity,
                 invoiceTime: LocalDateTime(secondsSinceEpoch: day * 86_400 + 8 * 3600 + 26 * 60), unitPrice: ExactDecimal(micros: price),
                 revenue: ExactDecimal(micros: quantity * price), customerID: customer, country: "United Kingdom",
                 isCancellation: invoice.hasPrefix("C"), isProduct: product, sourceLine: Int64(n) + 1)
    }

    static func context(_ id: String) -> UploadContext {
        UploadContext(uploadID: id, region: "UK", currency: "GBP", sourceURI: "gs://sales-uploads/\(id).csv", loadedAtMicros: 1_700_000_000_000_000)
    }

    @Test func anOrdersTableOfTheDayPartitionedLayoutIsRefusedAtStartWithTheWayOut() throws {
        GoogleCloud.globalInit()
        var settings = BigQueryWarehouseSettings()
        settings.dataset = "wh_old_\(UInt32.random(in: 0...UInt32.max))"
        let client = try BigQueryClient(project: "test-project", credentials: AnonymousCredentials())
        try client.createDatasetIfMissing(settings.dataset)
        let oldFields = BigQueryWarehouse.orderFields.filter { $0.name != "invoice_month" }
        try client.createTableIfMissing(dataset: settings.dataset, table: settings.ordersTable,
                                        definition: TableDefinition(fields: oldFields, partitionField: "invoice_date"))
        do {
            try BigQueryWarehouse(client: client, settings: settings).prepare()
            Issue.record("a table of the earlier layout was accepted")
        } catch let error as GoogleCloudError {
            #expect("\(error)".contains("earlier version"))
            #expect("\(error)".contains("Moving an orders table to the month layout"))
        }
        // The month layout it makes itself is accepted, again and again.
        #expect(throws: Never.self) { _ = try Self.warehouse() }
    }

    @Test func everyRowCarriesItsMonthNumber() {
        #expect(LocalDateTime(secondsSinceEpoch: 0).monthNumber == 0)
        #expect(LocalDateTime(secondsSinceEpoch: 14_944 * 86_400).monthNumber == (2010 - 1970) * 12 + 11)  // 2010-12-01
        #expect(LocalDateTime(secondsSinceEpoch: -86_400).monthNumber == -1)  // 1969-12-31
        let json = String(decoding: BigQueryWarehouse.json(Self.row(1, invoice: "1", quantity: 1, price: 1), key: "k", Self.context("u")),
                          as: UTF8.self)
        #expect(json.contains("\"invoice_month\":491"))
    }

    @Test func rowsLoadOnceAndTheSummaryFollowsTheReportDefinition() throws {
        let warehouse = try Self.warehouse()
        let rows = [
            Self.row(1, invoice: "536365", quantity: 6, price: 2_550_000),
            Self.row(2, invoice: "536365", stock: "71053", quantity: 6, price: 3_390_000, customer: "17850"),
            Self.row(3, invoice: "C536379", quantity: -1, price: 27_500_000, customer: "14527"),
            Self.row(4, invoice: "536366", stock: "POST", quantity: 1, price: 18_000_000, customer: nil, product: false),
        ]
        let first = try warehouse.insert(rows, for: Self.context("u1"))
        #expect(first.inserted == 4 && first.alreadyPresent.isEmpty && first.rejected.isEmpty)
        // A fresh load asks BigQuery nothing: the same rows from another upload are sent, and the
        // view counts each key once (the summary below).
        let fresh = try warehouse.insert(rows, for: Self.context("u2"))
        #expect(fresh.inserted == 4 && fresh.alreadyPresent.isEmpty)
        // A resumed load asks only for batches up to the last line it stored before: one that stored
        // nothing sends all; one that stored them counts its own rows as stored, sending nothing again.
        var resumingOther = Self.context("u3")
        resumingOther.resuming = true
        let again = try warehouse.insert(rows, for: resumingOther)
        #expect(again.inserted == 4 && again.alreadyPresent.isEmpty)
        var resumingOwn = Self.context("u1")
        resumingOwn.resuming = true
        let resumed = try warehouse.insert(rows, for: resumingOwn)
        #expect(resumed.inserted == 4 && resumed.alreadyPresent.isEmpty)

        // The view shows the rows of finished loads only.
        #expect(try warehouse.summary(ReportFilter()).orders == 0)
        for id in ["u1", "u2", "u3"] { try warehouse.finishLoad(Self.context(id)) }
        let summary = try warehouse.summary(ReportFilter())
        // 6×2.55 + 6×3.39 − 27.50 = 8.14 (POST excluded)
        #expect(summary.revenue == ExactDecimal(micros: 8_140_000))
        #expect(summary.orders == 2)
        #expect(summary.cancellations == 1)
        #expect(summary.units == 11)
        #expect(summary.customers == 2)
        let filtered = try warehouse.summary(ReportFilter(region: "UK", product: "71053", fromDay: 14_944, toDay: 14_944))
        #expect(filtered.revenue == ExactDecimal(micros: 20_340_000))
        #expect(try warehouse.summary(ReportFilter(region: "IN")).orders == 0)
    }

    @Test func theReportViewCountsARowSentTwiceOnce() throws {
        let warehouse = try Self.warehouse()
        var settings = warehouse.settings
        settings.checkExistingKeys = false   // as if insertId dedupe missed a retried request
        let blind = BigQueryWarehouse(client: warehouse.client, settings: settings)
        let rows = [Self.row(1, invoice: "1", quantity: 2, price: 1_250_000)]
        _ = try blind.insert(rows, for: Self.context("a"))
        _ = try blind.insert(rows, for: Self.context("a"))
        try warehouse.finishLoad(Self.context("a"))
        #expect(try warehouse.summary(ReportFilter()).revenue == ExactDecimal(micros: 2_500_000))
    }

    @Test func theLatestEventOfAnUploadIsItsRecord() throws {
        let warehouse = try Self.warehouse()
        var record = UploadRecord(id: "up1", region: "UK", fileName: "UK.csv", objectURI: "gs://b/UK.csv", sha256: "abc",
                                  sizeBytes: 10, encoding: "utf-8", status: .stored, currency: "GBP",
                                  createdAtMicros: 1, updatedAtMicros: 1)
        try warehouse.saveUpload(record)
        #expect(try warehouse.unfinishedUploads().map(\.id) == ["up1"])
        record.status = .loaded
        record.rows = RowCounts(read: 5, loaded: 4, rejected: 1, duplicates: 0)
        record.revenue = ExactDecimal(micros: 32_750_000)
        record.firstRejects = [RejectedRow(line: 3, reason: "bad_date", message: "13/45/2010")]
        record.extraColumns = ["Notes"]
        record.updatedAtMicros = 2
        try warehouse.saveUpload(record)
        #expect(try warehouse.upload(id: "up1") == record)
        #expect(try warehouse.unfinishedUploads().isEmpty)
        #expect(try warehouse.loadedUpload(region: "UK", sha256: "abc")?.id == "up1")
        #expect(try warehouse.loadedUpload(region: "IN", sha256: "abc") == nil)
        var other = record
        other.id = "up2"; other.createdAtMicros = 5; other.status = .failed
        try warehouse.saveUpload(other)
        #expect(try warehouse.recentUploads(limit: 10).map(\.id) == ["up2", "up1"])
        #expect(try warehouse.recentUploads(limit: 1).map(\.id) == ["up2"])
        #expect(try warehouse.upload(id: "nope") == nil)
    }
}
