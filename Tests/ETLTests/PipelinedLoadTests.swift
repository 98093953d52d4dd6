import Testing
@testable import ETL

/// Batches after the first are stored on a thread of their own while the next is read:
/// the report must not depend on how the rows were split into batches.
@Suite struct PipelinedLoadTests {
    /// Rows over several days, with duplicates, bad lines and non-product lines mixed in.
    static func sampleFile(rows: Int) -> String {
        var lines = [header]
        for index in 0..<rows {
            switch index % 11 {
            case 3: lines.append("\(536_000 + index),A\(index),bad date,1,13/45/2010 8:26,1.5,17850,UK")
            case 7: lines.append(lines[lines.count - 1])  // exact duplicate of the line before
            case 9: lines.append("\(536_000 + index),POST,postage,1,12/1/2010 9:\(10 + index % 40),18,17850.0,UK")
            default:
                lines.append("\(536_000 + index),\(20_000 + index),item \(index),\(index % 5 + 1),"
                    + "12/\(index % 28 + 1)/2010 8:\(10 + index % 40),\(index % 7).25,\(17_000 + index % 90),UK")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func reportIsTheSameWhateverTheBatchSize() throws {
        let text = Self.sampleFile(rows: 500)
        let refused: Set<Int64> = [5, 60, 61, 250, 499]
        func load(batchSize: Int) throws -> (LoadReport, [Int64], [UInt8]) {
            let warehouse = MemoryWarehouse()
            warehouse.state.withLock { $0.refuseLines = refused }
            let outcome = runLoad(text, settings: ETLSettings(batchSize: batchSize), warehouse: warehouse)
            let report = try outcome.result.get()
            return (report, warehouse.rows.map(\.sourceLine), outcome.rejects?.bytes ?? [])
        }
        let (whole, wholeLines, wholeRejects) = try load(batchSize: 5000)
        #expect(whole.rows.rejected > refused.count)
        for batchSize in [1, 2, 7, 64, 499] {
            let (split, lines, rejects) = try load(batchSize: batchSize)
            #expect(split.rows == whole.rows, "batch size \(batchSize)")
            #expect(split.revenue == whole.revenue, "batch size \(batchSize)")
            #expect(lines == wholeLines, "batch size \(batchSize)")
            // Rejected lines are written as they are found: the same lines, maybe in another order.
            func sortedLines(_ bytes: [UInt8]) -> [Substring] { String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).sorted() }
            #expect(sortedLines(rejects) == sortedLines(wholeRejects), "batch size \(batchSize)")
        }
    }

    @Test func warehouseFailureOnALaterBatchStopsTheLoad() {
        for failAfter in [0, 1, 3] {
            let warehouse = MemoryWarehouse()
            warehouse.state.withLock { $0.failAfterBatches = failAfter }
            let outcome = runLoad(Self.sampleFile(rows: 100), settings: ETLSettings(batchSize: 10), warehouse: warehouse)
            #expect(outcome.error == .warehouseFailed("connection refused"), "failing after \(failAfter) batches")
            #expect(warehouse.batches.count == failAfter)
        }
    }
}
