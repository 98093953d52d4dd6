import Testing
@testable import ETL

/// Files refused as a whole: nothing may reach the warehouse.
@Suite struct BadFileTests {
    @Test func emptyFileIsRefused() {
        for bytes: [UInt8] in [[], [0xEF, 0xBB, 0xBF], Array("\r\n\n   \n".utf8)] {
            let outcome = runLoad(bytes)
            #expect(outcome.error == .emptyFile)
            #expect(outcome.error?.code == "empty_file")
            #expect(outcome.warehouse.batches.isEmpty)
        }
    }

    @Test func headerWithoutRowsIsRefused() {
        let outcome = runLoad(header + "\r\n\r\n")
        #expect(outcome.error?.code == "no_data_rows")
        #expect(outcome.warehouse.batches.isEmpty)
    }

    @Test func missingColumnIsNamedAndNothingIsLoaded() {
        let outcome = runLoad("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,CustomerID,Country\n"
            + "1,A,x,1,12/1/2010 8:26,17850,UK\n")
        #expect(outcome.error == .missingColumns(
            ["UnitPrice"], found: ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "CustomerID", "Country"]))
        #expect(outcome.error?.code == "missing_columns")
        #expect(outcome.error?.message.hasPrefix("missing required column(s): UnitPrice") == true)
        #expect(outcome.warehouse.batches.isEmpty)
    }

    @Test func everyColumnIsRequired() {
        let outcome = runLoad("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n1,A,1,12/1/2010 8:26,1\n")
        #expect(outcome.error == .missingColumns(
            ["Description", "CustomerID", "Country"], found: ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice"]))
        #expect(outcome.error?.message.contains("the header has 5: InvoiceNo, StockCode, Quantity, InvoiceDate, UnitPrice") == true)
    }

    @Test func columnNamedTwiceIsRefused() {
        let outcome = runLoad(header + ",invoice_no\n1,A,x,1,12/1/2010 8:26,1,2,UK,1\n")
        #expect(outcome.error == .duplicateColumn("InvoiceNo"))
    }

    @Test func binaryGarbageIsRefusedClearly() {
        var generator = SystemRandomNumberGenerator()
        var garbage = (0..<4096).map { _ in UInt8.random(in: 1...255, using: &generator) }
        garbage[100] = 0
        let withNUL = runLoad(garbage)
        #expect(withNUL.error?.code == "not_csv")
        #expect(withNUL.warehouse.batches.isEmpty)

        let text = runLoad(Array("\u{1}\u{2}PK\u{3}\u{4}garbage;;;\nmore garbage\n".utf8))
        #expect(text.error?.code == "missing_columns")
        #expect(text.error?.message.contains("InvoiceNo") == true)
    }

    @Test func utf16FileIsNotCSV() {
        let utf16: [UInt8] = [0xFF, 0xFE] + Array(header.utf8).flatMap { [$0, 0] }
        #expect(runLoad(utf16).error?.code == "not_csv")
    }

    @Test func headerLongerThanTheLimitIsRefused() {
        let settings = ETLSettings(maxRecordBytes: 1024)
        let outcome = runLoad(String(repeating: "x", count: 5000) + "\n1,2\n", settings: settings)
        #expect(outcome.error == .headerTooLong(limit: 1024))
    }

    @Test func readFailureIsReportedAndRejectsAreAborted() {
        let reader = MemoryReader(Array((header + "\n1,A,x,1,bad,1,2,UK\n").utf8) + [UInt8](repeating: 0x0A, count: 100),
                                  chunk: 16)
        reader.failAfterBytes = 112  // after the rejected line, before the end
        let outcome = runLoad([], reader: reader)
        #expect(outcome.error == .readFailed("disk on fire"))
        #expect(outcome.rejects?.aborted == true)
    }

    @Test func warehouseFailureStopsTheLoad() {
        let warehouse = MemoryWarehouse()
        warehouse.state.withLock { $0.failInsert = true }
        let outcome = runLoad(header + "\n1,A,x,1,12/1/2010 8:26,1,2,UK\n", warehouse: warehouse)
        #expect(outcome.error == .warehouseFailed("connection refused"))
        #expect(outcome.error?.code == "warehouse_failed")
    }

    @Test func fiveMegabyteLineIsRejectedWithoutBufferingIt() throws {
        let prefix = Array((header + "\r\n1,A,x,1,12/1/2010 8:26,1,17850,UK\r\n2,").utf8)
        let suffix = Array(",y,1,12/1/2010 8:26,1,1,UK\r\n3,B,z,2,12/1/2010 8:27,2,17850,UK\r\n".utf8)
        let reader = PatternReader(prefix: prefix, fill: UInt8(ascii: "Q"), fillCount: 5 << 20, suffix: suffix)
        let outcome = runLoad([], reader: reader)
        let report = try outcome.result.get()
        #expect(report.rows == RowCounts(read: 3, loaded: 2, rejected: 1, duplicates: 0))
        #expect(report.firstRejects == [RejectedRow(
            line: 3, reason: "record_too_long", message: "the record is longer than 1048576 bytes and was skipped")])
        #expect(outcome.warehouse.rows.map(\.sourceLine) == [2, 4])
        // The rejects CSV holds the line's number and reason, not its 5 MB.
        #expect(try #require(outcome.rejects).bytes.count < 1000)
    }
}
