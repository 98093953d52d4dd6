import Testing
@testable import GoogleCloud

@Suite(.enabled(if: Emulators.hasBigQuery, "BIGQUERY_EMULATOR_HOST is not set: run scripts/emulators.sh start"))
struct BigQueryFaultTests {
    @Test func anInsertAllRetriedAfter503AndALostAnswerLosesNoRows() throws {
        let direct = try bigQueryClient()
        let (dataset, table) = try BigQueryEmulatorTests.freshTable(direct)
        let proxy = try FaultProxy(upstream: try #require(Emulators.bigQueryHost))
        defer { proxy.stop() }
        let client = try bigQueryClient(endpoint: proxy.endpoint)
        let isInsert: @Sendable (FaultProxy.RequestHead) -> Bool = { $0.target.hasSuffix("/insertAll") }
        proxy.inject(.status(503), when: isInsert)
        proxy.inject(.forwardThenReset, when: isInsert)   // stored, but the answer is lost: sent again
        proxy.inject(.resetMidBody, when: isInsert)
        let rows = (0..<200).map { salesRow("r\($0)", region: "UK", quantity: 1, revenue: "0.10", date: "2011-02-01") }
        #expect(try client.insertAll(dataset: dataset, table: table, rows: rows).isEmpty)
        #expect(proxy.pendingFaults == 0)
        let result = try direct.query(
            "SELECT COUNT(DISTINCT row_key) AS keys, COUNT(*) AS n FROM \(direct.qualified(dataset, table))")
        #expect(result.value(0, "keys").int64 == 200)
        // The emulator does not dedupe insert ids (BigQuery does, best effort): the lost answer's rows may be there twice.
        #expect((result.value(0, "n").int64 ?? 0) >= 200)
    }

    @Test func anInsertWithoutInsertIDsIsNotRetried() throws {
        let direct = try bigQueryClient()
        let (dataset, table) = try BigQueryEmulatorTests.freshTable(direct)
        let proxy = try FaultProxy(upstream: try #require(Emulators.bigQueryHost))
        defer { proxy.stop() }
        let client = try bigQueryClient(endpoint: proxy.endpoint)
        proxy.inject(.status(503), when: { $0.target.hasSuffix("/insertAll") })
        var row = salesRow("x", region: "UK", quantity: 1, revenue: "1", date: "2011-02-01")
        row.insertID = nil
        #expect(throws: GoogleCloudError.self) { _ = try client.insertAll(dataset: dataset, table: table, rows: [row]) }
        #expect(proxy.log.filter { $0.contains("insertAll") }.count == 1)
    }
}
