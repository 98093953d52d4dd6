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
        var unkeyed = SQLiteOptions()
        unkeyed.rowLayout = .unkeyed
        unkeyed.indexInvoiceDay = false
        layouts.append(("no index (ceiling)", unkeyed))
        if getenv("SQLITE_BENCHMARK_ALL") != nil {
            unique.indexInvoiceDay = false
            layouts.append(("unique index only", unique))
            var withoutRowID = SQLiteOptions()
            withoutRowID.rowLayout = .withoutRowID
            layouts.append(("WITHOUT ROWID + day index", withoutRowID))
            for pageSize in [4096] {
                var paged = SQLiteOptions()
                paged.pageSize = pageSize
                layouts.append(("default, page size \(pageSize)", paged))
            }
            var checkpoint = SQLiteOptions()
            checkpoint.walAutocheckpointPages = 10_000
            layouts.append(("default, checkpoint every 10000 pages", checkpoint))
            for perStatement in [100] {
                layouts.append(("default, \(perStatement) rows per statement", SQLiteOptions(rowsPerStatement: perStatement)))
            }
        }
        let rounds = getenv("SQLITE_BENCHMARK_ROUNDS").flatMap { Int(String(cString: $0)) } ?? 1
        layouts = (0..<rounds).flatMap { _ in layouts }
        for (name, options) in layouts {
            let database = TemporaryDatabase()
            let warehouse = try database.warehouse(options)
            let cpuStarted = cpuSeconds()
            let started = ContinuousClock.now
            var inserted = 0
            for start in stride(from: 0, to: rows.count, by: batchSize) {
                inserted += try warehouse.insert(Array(rows[start..<min(start + batchSize, rows.count)]), for: context("bench")).inserted
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let cpu = cpuSeconds() - cpuStarted
            #expect(inserted == rows.count)
            print("sqlite \(name): \(Int(Double(rows.count) / seconds)) rows/s wall (\(seconds) s), "
                + "\(Int(Double(rows.count) / cpu)) rows per CPU second")
        }
    }
}

/// CPU time of the process (user and system), in seconds.
func cpuSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
