#if canImport(Glibc)
import Glibc
#endif
import ETL
import Testing
@_spi(Benchmark) import Warehouse

/// The write-ahead log is copied back into the database while the warehouse is open, so the
/// log does not grow with every load until the process ends.
@Suite struct SQLiteCheckpointTests {
    func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    @Test(arguments: [false, true])
    func loadsAreCheckpointedIntoTheDatabaseFileWhileTheWarehouseIsOpen(databaseExistedBefore: Bool) throws {
        let database = TemporaryDatabase()
        var options = SQLiteOptions(rowsPerStatement: 50)
        options.walAutocheckpointPages = 8
        options.walSizeLimitBytes = 1 << 20
        if databaseExistedBefore { _ = try database.warehouse(options) }
        let warehouse = try database.warehouse(options)
        let before = fileSize(database.path)
        var line: Int64 = 1
        var batches = 0
        var copied = false
        var reused = false
        // Batches until the database file holds 4 MB of rows (checkpoints ran) and the log is
        // under half of it (it starts over once copied, cut back to 1 MiB, not grown with every
        // write). Checkpoints run at a lower priority and may lag on a busy machine: when the
        // log is ahead, the writer pauses so the checkpoint can catch up, as idle time between
        // uploads does.
        while batches < 1500 && !(copied && reused) {
            let rows = (0..<200).map { _ -> OrderRow in
                defer { line += 1 }
                return orderRow(line: line, invoice: "5\(line / 8)", stock: "85123A", description: "WHITE HANGING HEART \(line % 97)",
                                quantity: 2, time: wallClock(2011, 1, 1 + line / 5000, 9), priceMicros: 2_550_000,
                                customer: "17850", country: "United Kingdom")
            }
            _ = try warehouse.insert(rows, for: context("u"))
            batches += 1
            copied = fileSize(database.path) > max(before, 4 << 20)
            reused = fileSize(database.path + "-wal") < fileSize(database.path) / 2
            if !(copied && reused) { usleep(fileSize(database.path + "-wal") > 2 << 20 ? 50_000 : 1_000) }
        }
        let sizes = "after \(batches) batches the database file is \(fileSize(database.path)) bytes, the log \(fileSize(database.path + "-wal"))"
        #expect(copied, "\(sizes)")
        #expect(reused, "\(sizes)")
    }
}
