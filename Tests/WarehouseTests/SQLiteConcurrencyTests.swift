import Dispatch
import ETL
import Synchronization
import Testing
import Warehouse

/// `count` chronological rows of one upload, starting at `firstLine`.
func generatedRows(_ count: Int, firstLine: Int64 = 2, region: UInt64 = 3) -> [OrderRow] {
    let start = wallClock(2011, 1, 1).secondsSinceEpoch
    return (0..<Int64(count)).map { offset in
        let line = firstLine + offset
        return orderRow(line: line, invoice: "5\(40000 + offset / 4)", stock: "2\(offset % 1000)", description: "ITEM \(offset % 97)",
                        quantity: 1 + offset % 12, time: LocalDateTime(secondsSinceEpoch: start + offset * 7),
                        priceMicros: 1_250_000, customer: "1\(offset % 5000)", country: "United Kingdom", region: region)
    }
}

@Suite struct SQLiteConcurrencyTests {
    @Test func readsAnswerWithCommittedDataWhileAWriteIsOpen() throws {
        // Another connection holds a write transaction open (as an insert does for a whole
        // batch): reads answer at once with what was committed before it, then with its rows.
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        let rows = generatedRows(10, firstLine: 1_000_000, region: 4)
        _ = try warehouse.insert(rows, for: context("before"))
        try warehouse.saveUpload(record("before", status: .loaded, createdAt: 1))
        let unitsBefore = try warehouse.summary(ReportFilter()).units
        #expect(unitsBefore == rows.reduce(Int64(0)) { $0 + $1.quantity })
        // The open write takes the upload out of the reports (as a retraction does).
        try database.withOpenWrite("UPDATE uploads SET status = 'retracting'") { (changed: Int) throws in
            #expect(changed == 1, "the open write changed \(changed) uploads")
            #expect(try warehouse.summary(ReportFilter()).units == unitsBefore)
            #expect(try warehouse.upload(id: "before")?.status == .loaded)
        }
        #expect(try warehouse.summary(ReportFilter()).units == 0)
    }

    @Test func aReaderSeesABatchWhollyOrNotAtAll() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        let small = generatedRows(10, firstLine: 1_000_000, region: 4)
        _ = try warehouse.insert(small, for: context("before"))
        try warehouse.saveUpload(record("before", status: .loaded, createdAt: 1))
        let unitsBefore = try warehouse.summary(ReportFilter()).units
        let big = generatedRows(150_000)
        let unitsAdded = big.reduce(Int64(0)) { $0 + $1.quantity }

        let writerDone = Atomic<Bool>(false)
        let writerResult = Mutex<InsertResult?>(nil)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            let result = try? warehouse.load(big, for: context("big"))
            writerResult.withLock { $0 = result }
            writerDone.store(true, ordering: .releasing)
        }
        var unitsSeen: Set<Int64> = []
        while !writerDone.load(ordering: .acquiring) {
            unitsSeen.insert(try warehouse.summary(ReportFilter()).units)
            #expect(try warehouse.upload(id: "before")?.status == .loaded)
        }
        group.wait()
        #expect(writerResult.withLock { $0 } == InsertResult(inserted: big.count, alreadyPresent: [], rejected: []))
        // Whenever a read landed, it saw the batch entirely or not at all.
        #expect(unitsSeen.isSubset(of: [unitsBefore, unitsBefore + unitsAdded]), "\(unitsSeen)")
        #expect(try warehouse.summary(ReportFilter()).units == unitsBefore + unitsAdded)
    }

    @Test func concurrentWritersAreSerialized() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        let batches = (0..<4).map { generatedRows(2_000, firstLine: 2, region: UInt64(10 + $0)) }
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: batches.count) { index in
            do {
                let result = try warehouse.insert(batches[index], for: context("w\(index)"))
                if result.inserted != 2_000 { failures.add(1, ordering: .relaxed) }
            } catch {
                failures.add(1, ordering: .relaxed)
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(database.query("SELECT count(*) FROM order_rows") == [["8000"]])
    }
}
