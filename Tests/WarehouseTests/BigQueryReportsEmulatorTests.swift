import ETL
import Foundation
import GoogleCloud
import Testing
@testable import Warehouse

/// The dashboard's answers from BigQuery (local emulator) equal the embedded warehouse's
/// for the same rows, and the hand-worked figures.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["BIGQUERY_EMULATOR_HOST"].map { !$0.isEmpty } ?? false,
                "BIGQUERY_EMULATOR_HOST is not set: run scripts/emulators.sh start"))
struct BigQueryReportsEmulatorTests {
    let database = TemporaryDatabase()
    let sqlite: SQLiteWarehouse
    let bigQuery: BigQueryWarehouse

    init() throws {
        sqlite = try database.warehouse()
        bigQuery = try BigQueryWarehouseEmulatorTests.warehouse()
        for warehouse in [sqlite as any Warehouse, bigQuery as any Warehouse] {
            try warehouse.load(ukRows, for: context("uk-upload", region: "UK"))
            try warehouse.load(inRows, for: context("in-upload", region: "IN"))
        }
    }

    static let filters = [
        ReportFilter(), ReportFilter(region: "UK"), ReportFilter(country: "France"), ReportFilter(country: "united KINGDOM"), ReportFilter(product: "85123a"),
        ReportFilter(product: "heart"), ReportFilter(fromDay: dayNumber(2010, 12, 2), toDay: dayNumber(2010, 12, 3)),
        ReportFilter(region: "IN", fromDay: dayNumber(2010, 12, 4)), ReportFilter(region: "US"),
        // Scoped to a user's regions, row by row.
        ReportFilter(allowedRegions: ["IN"]), ReportFilter(allowedRegions: ["IN", "UK"]), ReportFilter(allowedRegions: []),
        ReportFilter(country: "France", allowedRegions: ["UK"]),
    ]

    @Test func timeSeriesMatchesSQLiteForEveryGrainAndFilter() throws {
        for filter in Self.filters {
            for grain in ReportGrain.allCases {
                #expect(try bigQuery.timeSeries(filter, grain: grain) == sqlite.timeSeries(filter, grain: grain), "\(filter) \(grain)")
            }
        }
        // Hand-worked: the week of Monday 2010-11-29 holds everything.
        #expect(try bigQuery.timeSeries(ReportFilter(), grain: .week) == [
            ReportPeriod(startDay: dayNumber(2010, 11, 29), figures: ReportFigures(revenue: ExactDecimal(micros: 132_740_000), orders: 5, units: 40)),
        ])
    }

    @Test func breakdownsMatchSQLite() throws {
        for filter in Self.filters {
            for dimension in ReportDimension.allCases {
                #expect(try bigQuery.breakdown(filter, by: dimension, limit: 3) == sqlite.breakdown(filter, by: dimension, limit: 3),
                        "\(filter) \(dimension)")
            }
        }
        #expect(try bigQuery.breakdown(ReportFilter(), by: .country, limit: 1).map(\.key) == ["France"])
    }

    @Test func optionsMatchSQLite() throws {
        #expect(try bigQuery.reportOptions() == sqlite.reportOptions())
        for scope in [["IN"], ["UK"], [], ["IN", "UK"]] {
            #expect(try bigQuery.reportOptions(regions: scope) == sqlite.reportOptions(regions: scope), "\(scope)")
        }
        #expect(try bigQuery.reportOptions(regions: ["IN"]).regions == ["IN"])
    }

    @Test func aRetractedUploadLeavesTheViewAsItsDeletedRowsLeaveSQLite() throws {
        for warehouse in [sqlite as any Warehouse, bigQuery as any Warehouse] {
            let record = UploadRecord(id: "uk-upload", region: "UK", fileName: "UK.csv", objectURI: "x", sha256: "s", sizeBytes: 1,
                                      encoding: "utf-8", status: .retracted, currency: "GBP", createdAtMicros: 1, updatedAtMicros: 2,
                                      user: "ana", retractedBy: "boss", retractedAtMicros: 2)
            try warehouse.saveUpload(record)
            _ = try warehouse.removeRows(ofUpload: "uk-upload", batchRows: 2) { _ in }
        }
        #expect(try bigQuery.summary(ReportFilter(region: "UK")).orders == 0)
        #expect(try bigQuery.summary(ReportFilter(region: "IN")).orders > 0)
        for filter in Self.filters {
            #expect(try bigQuery.summary(filter) == sqlite.summary(filter), "\(filter)")
        }
        let saved = try #require(try bigQuery.upload(id: "uk-upload"))
        #expect(saved.status == .retracted && saved.retractedBy == "boss" && saved.user == "ana")
    }

    @Test func theAuditTrailRoundTrips() throws {
        for index in 0..<3 {
            try bigQuery.recordAudit(AuditEvent(atMicros: Int64(10 + index), actor: "ana", kind: index == 1 ? "retraction" : "upload",
                                                subject: "u\(index)", address: "1.2.3.4", detail: "d"))
        }
        #expect(try bigQuery.auditEvents(AuditQuery()).map(\.subject) == ["u2", "u1", "u0"])
        #expect(try bigQuery.auditEvents(AuditQuery(kind: "upload", limit: 1)).map(\.subject) == ["u2"])
        #expect(try bigQuery.auditEvents(AuditQuery(beforeMicros: 12)).map(\.subject) == ["u1", "u0"])
    }

    @Test func invoicePagesAndLinesMatchSQLite() throws {
        for filter in Self.filters {
            for page in 1...3 {
                #expect(try bigQuery.invoices(filter, page: page, pageSize: 3) == sqlite.invoices(filter, page: page, pageSize: 3),
                        "\(filter) page \(page)")
            }
        }
        #expect(try bigQuery.invoices(ReportFilter(), page: 9, pageSize: 3).total == 7)
        for (region, invoice) in [("UK", "536365"), ("IN", "536365"), ("UK", "C536379"), ("UK", "nope")] {
            #expect(try bigQuery.invoiceLines(region: region, invoiceNo: invoice) == sqlite.invoiceLines(region: region, invoiceNo: invoice))
        }
        #expect(try bigQuery.invoiceLines(region: "UK", invoiceNo: "536365").count == 2)
    }

    @Test func summaryMatchesSQLite() throws {
        for filter in Self.filters {
            #expect(try bigQuery.summary(filter) == sqlite.summary(filter), "\(filter)")
        }
    }
}
