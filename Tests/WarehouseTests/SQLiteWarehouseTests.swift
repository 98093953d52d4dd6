import ETL
import Testing
import Warehouse

/// The small data set of the summary tests: a UK upload and an IN upload.
let ukRows = [
    orderRow(line: 2, invoice: "536365", stock: "85123A", description: "WHITE HANGING HEART T-LIGHT HOLDER", quantity: 6,
             time: wallClock(2010, 12, 1, 8, 26), priceMicros: 2_550_000, customer: "17850", country: "United Kingdom"),
    orderRow(line: 3, invoice: "536365", stock: "71053", description: "WHITE METAL LANTERN", quantity: 6,
             time: wallClock(2010, 12, 1, 8, 26), priceMicros: 3_390_000, customer: "17850", country: "United Kingdom"),
    orderRow(line: 4, invoice: "536366", stock: "22633", description: "HAND WARMER UNION JACK", quantity: 6,
             time: wallClock(2010, 12, 1, 8, 28), priceMicros: 1_850_000, customer: "17850", country: "United Kingdom"),
    orderRow(line: 5, invoice: "536367", stock: "POST", description: "POSTAGE", quantity: 1,
             time: wallClock(2010, 12, 2, 9, 0), priceMicros: 18_000_000, customer: "12583", country: "France", isProduct: false),
    orderRow(line: 6, invoice: "C536379", stock: "85123A", description: "WHITE HANGING HEART T-LIGHT HOLDER", quantity: -2,
             time: wallClock(2010, 12, 2, 9, 41), priceMicros: 2_550_000, customer: "14527", country: "United Kingdom"),
    orderRow(line: 7, invoice: "536370", stock: "22728", description: "ALARM CLOCK BAKELIKE PINK", quantity: 24,
             time: wallClock(2010, 12, 3, 10, 0), priceMicros: 3_750_000, customer: nil, country: "France"),
]
let inRows = [
    orderRow(line: 2, invoice: "536365", stock: "85123A", description: "white hanging heart", quantity: 1,
             time: wallClock(2010, 12, 3, 11, 0), priceMicros: 2_950_000, customer: "17850", country: "India", region: 2),
    orderRow(line: 3, invoice: "C536400", stock: "22633", description: "HAND WARMER UNION JACK", quantity: -1,
             time: wallClock(2010, 12, 4, 12, 0), priceMicros: 1_850_000, customer: "99999", country: "India", region: 2),
]

func dayNumber(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 { wallClock(year, month, day).dayNumber }

@Suite struct SQLiteWarehouseTests {
    @Test func rowsReadBackThroughTheOrdersViewWithExactDecimals() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        let rows = [
            orderRow(line: 2, invoice: "536365", stock: "85123A", description: "WHITE HANGING HEART", quantity: 6,
                     time: wallClock(2010, 12, 1, 8, 26), priceMicros: 2_550_000, customer: "17850", country: "United Kingdom"),
            orderRow(line: 3, invoice: "C536379", stock: "D", description: nil, quantity: -1,
                     time: wallClock(2010, 12, 1, 9, 41), priceMicros: 27_500_000, customer: nil, country: "United Kingdom",
                     isProduct: false),
            orderRow(line: 4, invoice: "536400", stock: "TINY", description: "Tiny", quantity: 3,
                     time: wallClock(2011, 1, 2, 23, 59), priceMicros: 1_234, customer: "1", country: "Eire"),
        ]
        let result = try warehouse.insert(rows, for: context("u1"))
        #expect(result == InsertResult(inserted: 3, alreadyPresent: [], rejected: []))
        try warehouse.finishLoad(context("u1"))
        let viewed = database.query("""
            SELECT row_key, upload_id, region, invoice_no, stock_code, description, quantity, invoice_ts, invoice_date,
                   unit_price, currency, revenue, customer_id, country, is_cancellation, is_product, source_uri,
                   source_line, loaded_at
            FROM orders ORDER BY source_line
            """)
        let firstKey = String(UInt64(wallClock(2010, 12, 1, 8, 26).secondsSinceEpoch), radix: 16)
        #expect(viewed.count == 3)
        guard viewed.count == 3 else { return }
        #expect(viewed[0] == [
            String(repeating: "0", count: 16 - firstKey.count) + firstKey + "0001000000000002", "u1", "UK", "536365",
            "85123A", "WHITE HANGING HEART", "6", "2010-12-01T08:26:00", "2010-12-01", "2.55", "GBP", "15.30", "17850",
            "United Kingdom", "0", "1", "file:///var/objects/u1.csv", "2", "2023-11-14T22:13:20.123Z",
        ])
        let checked = [3, 4, 5, 6, 7, 8, 9, 11, 12, 14, 15]
        #expect(checked.map { viewed[1][$0] } == [
            "C536379", "D", nil, "-1", "2010-12-01T09:41:00", "2010-12-01", "27.50", "-27.50", nil, "1", "0",
        ])
        #expect(checked.map { viewed[2][$0] } == [
            "536400", "TINY", "Tiny", "3", "2011-01-02T23:59:00", "2011-01-02", "0.001234", "0.003702", "1", "0", "1",
        ])
    }

    @Test func reinsertingIsIdempotentAndNamesRowsHeldByOthers() throws {
        let database = TemporaryDatabase()
        // Three rows per statement, so ignored rows fall in several statements.
        let warehouse = try database.warehouse(SQLiteOptions(rowsPerStatement: 3))
        #expect(try warehouse.insert(ukRows, for: context("first")) == InsertResult(inserted: 6, alreadyPresent: [], rejected: []))
        // The same upload again (a resumed load): all counted as its rows, none stored twice.
        #expect(try warehouse.insert(ukRows, for: context("first")) == InsertResult(inserted: 6, alreadyPresent: [], rejected: []))
        // Another upload of the same rows: every row is already present.
        #expect(try warehouse.insert(ukRows, for: context("second")) == InsertResult(inserted: 0, alreadyPresent: [0, 1, 2, 3, 4, 5], rejected: []))
        // A batch mixing new rows, rows of the first upload, and a key repeated within the batch on another line.
        let fresh = orderRow(line: 20, invoice: "536500", stock: "A", description: nil, quantity: 1,
                             time: wallClock(2011, 1, 1), priceMicros: 1_000_000, customer: nil, country: "UK")
        let repeatedKey = orderRow(line: 21, invoice: "536500", stock: "A", description: nil, quantity: 1,
                                   time: wallClock(2011, 1, 1), priceMicros: 1_000_000, customer: nil, country: "UK", keyLine: 20)
        let fresh2 = orderRow(line: 22, invoice: "536501", stock: "B", description: nil, quantity: 2,
                              time: wallClock(2011, 1, 2), priceMicros: 1_000_000, customer: nil, country: "UK")
        let mixed = [fresh, ukRows[1], repeatedKey, fresh2, ukRows[4]]
        #expect(try warehouse.insert(mixed, for: context("third")) == InsertResult(inserted: 2, alreadyPresent: [1, 2, 4], rejected: []))
        #expect(database.query("SELECT count(*) FROM order_rows") == [["8"]])
        try warehouse.finishLoad(context("first"))
        #expect(database.query("SELECT upload_id FROM orders WHERE source_line = 3 AND invoice_no = '536365'") == [["first"]])
    }

    @Test func keyCollisionFromAnotherUploadKeepsTheFirstRow() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        let original = ukRows[0]
        var other = ukRows[0]
        other.quantity = 99
        other.sourceLine = 40
        _ = try warehouse.insert([original], for: context("a"))
        // Same key, same line number, but another upload: still another upload's row.
        var sameLine = other
        sameLine.sourceLine = original.sourceLine
        #expect(try warehouse.insert([other, sameLine], for: context("b", region: "UK")) == InsertResult(inserted: 0, alreadyPresent: [0, 1], rejected: []))
        try warehouse.finishLoad(context("a"))
        #expect(database.query("SELECT upload_id, quantity, source_line FROM orders") == [["a", "6", "2"]])
    }

    @Test func emptyBatchChangesNothing() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        #expect(try warehouse.insert([], for: context("e")) == InsertResult(inserted: 0, alreadyPresent: [], rejected: []))
        #expect(try warehouse.upload(id: "e") == nil)
    }

    @Test func checkReadyPassesOnAWritableDatabase() throws {
        let database = TemporaryDatabase()
        let warehouse = try database.warehouse()
        try warehouse.checkReady()
    }

    @Test func checkReadyFailsBeforeTheTablesExist() throws {
        let database = TemporaryDatabase()
        let warehouse = try SQLiteWarehouse(path: database.path)
        #expect(throws: WarehouseError.self) { try warehouse.checkReady() }
    }

    @Test func openingAnImpossiblePathFailsWithCode() {
        do {
            _ = try SQLiteWarehouse(path: "/nonexistent-dir/x/warehouse.sqlite")
            Issue.record("opened an impossible path")
        } catch let error as WarehouseError {
            #expect(error.code == "warehouse_cannot_open")
            #expect(!error.message.isEmpty)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
