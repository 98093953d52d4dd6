import ETL
import Foundation
import GoogleCloud
import Synchronization
import Testing
@testable import Warehouse

/// insertAll requests stay within the configured rows and bytes (BigQuery refuses requests
/// over 10 MB or 50,000 rows), and splitting loses or repeats no row.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["BIGQUERY_EMULATOR_HOST"].map { !$0.isEmpty } ?? false,
                "BIGQUERY_EMULATOR_HOST is not set: run scripts/emulators.sh start"))
struct BigQueryInsertSplitTests {
    /// Passes every request to libcurl and notes the JSON size of each insertAll request
    /// (a gzip body's last four bytes are its uncompressed size, modulo 2^32).
    final class InsertSizes: HTTPClient {
        let inner = CurlHTTPClient()
        let jsonBytes = Mutex<[Int]>([])

        func perform(_ request: HTTPRequest) throws -> HTTPResponse {
            if request.url.hasSuffix("/insertAll"), case .bytes(let body) = request.body {
                let gzip = request.headers.contains { $0.name.lowercased() == "content-encoding" && $0.value == "gzip" }
                let size = gzip && body.count >= 4
                    ? body.suffix(4).reversed().reduce(0) { $0 << 8 | Int($1) }
                    : body.count
                jsonBytes.withLock { $0.append(size) }
            }
            return try inner.perform(request)
        }
    }

    static func warehouse(rows: Int, bytes: Int, http: any HTTPClient = CurlHTTPClient()) throws -> BigQueryWarehouse {
        GoogleCloud.globalInit()
        var settings = BigQueryWarehouseSettings()
        settings.dataset = "split_\(UInt32.random(in: 0...UInt32.max))"
        settings.rowsPerInsert = rows
        settings.maxInsertRequestBytes = bytes
        let client = try BigQueryClient(project: "test-project", credentials: AnonymousCredentials(), httpClient: http)
        let warehouse = BigQueryWarehouse(client: client, settings: settings)
        try warehouse.prepare()
        return warehouse
    }

    static func rows(_ count: Int) -> [OrderRow] {
        (0..<count).map { BigQueryWarehouseEmulatorTests.row(UInt64($0), invoice: "5\($0)", quantity: 1, price: 1_000_000) }
    }

    @Test func aBatchIsSentInRequestsOfAtMostTheConfiguredRows() throws {
        let warehouse = try Self.warehouse(rows: 7, bytes: 9_000_000)
        let result = try warehouse.insert(Self.rows(30), for: BigQueryWarehouseEmulatorTests.context("split-rows"))
        #expect(result.inserted == 30 && result.rejected.isEmpty)
        let totals = warehouse.client.insertAllCounters.snapshot
        #expect(totals.requests == 5)  // 7 + 7 + 7 + 7 + 2
        #expect(totals.rows == 30)
        try warehouse.finishLoad(BigQueryWarehouseEmulatorTests.context("split-rows"))
        #expect(try warehouse.summary(ReportFilter()).units == 30)
    }

    @Test func aBatchIsSentInRequestsUnderTheByteLimit() throws {
        // One row of JSON is over 300 bytes (its field names alone are about 250): 2,000 bytes hold at most 5.
        let sizes = InsertSizes()
        let warehouse = try Self.warehouse(rows: 500, bytes: 2_000, http: sizes)
        let result = try warehouse.insert(Self.rows(12), for: BigQueryWarehouseEmulatorTests.context("split-bytes"))
        #expect(result.inserted == 12 && result.rejected.isEmpty)
        let totals = warehouse.client.insertAllCounters.snapshot
        #expect(totals.requests >= 3)
        // The limit holds for every request, not on average.
        let each = sizes.jsonBytes.withLock { $0 }
        #expect(Int64(each.count) == totals.requests, "\(each)")
        #expect(Int64(each.reduce(0, +)) == totals.jsonBytes, "\(each)")
        #expect(each.allSatisfy { $0 <= 2_000 }, "\(each)")
        #expect(totals.sentBytes < totals.jsonBytes)  // gzip is on
        try warehouse.finishLoad(BigQueryWarehouseEmulatorTests.context("split-bytes"))
        #expect(try warehouse.summary(ReportFilter()).units == 12)
    }
}
