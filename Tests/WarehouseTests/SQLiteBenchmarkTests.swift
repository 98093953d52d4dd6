#if canImport(Glibc)
import Glibc
#endif
import ETL
import Testing
@_spi(Benchmark) import Warehouse

/// Insert throughput, run by hand in release mode:
/// `SQLITE_BENCHMARK=1 swift test -c release --filter SQLiteBenchmark`.
@Suite struct SQLiteBenchmarkTests {
    @Test(.enabled(if: getenv("SQLITE_BENCHMARK") != nil))
    func millionChronologicalRows() throws {
        let rows = generatedRows(1_000_000)
        let batchSize = 10_000
        var layouts: [(String, SQLiteOptions)] = []
        var unique = SQLiteOptions()
        layouts.append(("unique index + day index (default)", unique))
        unique.indexInvoiceDay = false
        layouts.append(("unique index only", unique))
        var withoutRowID = SQLiteOptions()
        withoutRowID.rowLayout = .withoutRowID
        layouts.append(("WITHOUT ROWID + day index", withoutRowID))
        var unkeyed = SQLiteOptions()
        unkeyed.rowLayout = .unkeyed
        unkeyed.indexInvoiceDay = false
        layouts.append(("no index (ceiling)", unkeyed))
        for (name, options) in layouts {
            let database = TemporaryDatabase()
            let warehouse = try database.warehouse(options)
            let started = ContinuousClock.now
            var inserted = 0
            for start in stride(from: 0, to: rows.count, by: batchSize) {
                inserted += try warehouse.insert(Array(rows[start..<min(start + batchSize, rows.count)]), for: context("bench")).inserted
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            #expect(inserted == rows.count)
            print("sqlite \(name): \(Int(Double(rows.count) / seconds)) rows/s (\(seconds) s)")
        }
    }
}
