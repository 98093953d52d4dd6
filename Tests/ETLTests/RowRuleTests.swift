import Testing
@testable import ETL

/// Loads `lines` under the standard header; returns the outcome.
func loadRows(_ lines: [String], region rules: RegionRules = region(), headerLine: String = header) -> LoadOutcome {
    runLoad(([headerLine] + lines).joined(separator: "\r\n") + "\r\n", region: rules)
}

/// Row-level rules: what a line becomes, or why it is rejected.
@Suite struct RowRuleTests {
    @Test func raggedRowsAreRejectedWithTheirLineNumbers() throws {
        let outcome = loadRows([
            "1,A,x,1,12/1/2010 8:26,1,2,UK",
            "2,B,x,1,12/1/2010 8:26,1,2",
            "\"3\nstill 3\",C,x,1,12/1/2010 8:26,1,2,UK,extra",
            "4,D,x,1,12/1/2010 8:26,1,2,UK",
        ])
        let report = try outcome.result.get()
        #expect(report.rows == RowCounts(read: 4, loaded: 2, rejected: 2, duplicates: 0))
        #expect(report.firstRejects.map(\.line) == [3, 4])
        #expect(report.firstRejects.allSatisfy { $0.reason == "bad_field_count" })
        #expect(report.firstRejects[0].message == "expected 8 fields, found 7")
        #expect(outcome.warehouse.rows.map(\.sourceLine) == [2, 6])
    }

    @Test func missingOrMalformedValuesAreRejectedWithTheirReason() throws {
        let report = try loadRows([
            " ,A,x,1,12/1/2010 8:26,1,2,UK",
            "1,  ,x,1,12/1/2010 8:26,1,2,UK",
            "1,A,x,1.5,12/1/2010 8:26,1,2,UK",
            "1,A,x,ten,12/1/2010 8:26,1,2,UK",
            "1,A,x,1,12/1/2010 8:26,1.0000001,2,UK",
            "1,A,x,1,12/1/2010 8:26,1e3,2,UK",
            "1,A,x,1,12/1/2010 8:26,99999999999999,2,UK",
            "1,A,x,9000000000,12/1/2010 8:26,9999,2,UK",
            "1,A,x,1,yesterday,1,2,UK",
        ]).result.get()
        #expect(report.firstRejects.map(\.reason) == [
            "missing_invoice_no", "missing_stock_code", "bad_quantity", "bad_quantity", "bad_price", "bad_price",
            "bad_price", "out_of_range", "bad_date",
        ])
        #expect(report.rows.loaded == 0)
    }

    @Test func hugeLinesAreRejectedSoNoTotalCanOverflow() throws {
        // Each line alone fits an Int64 of millionths; two of them together would not.
        let report = try loadRows([
            "1,A,x,1000000,12/1/2010 8:26,5000000,2,UK",
            "2,A,x,1000000,12/1/2010 8:26,5000000,2,UK",
            "3,A,x,1000,12/1/2010 8:26,1000000,2,UK",
            "4,A,x,-1000000000,12/1/2010 8:26,1,2,UK",
            "5,A,x,-1000000001,12/1/2010 8:26,0,2,UK",
        ]).result.get()
        #expect(report.firstRejects.map(\.reason) == ["out_of_range", "out_of_range", "out_of_range"])
        #expect(report.firstRejects.map(\.line) == [2, 3, 6])
        #expect(report.rows.loaded == 2)
        #expect(report.revenue == ExactDecimal(micros: 0))
    }

    @Test func impossibleDatesAreRejectedNeverSwapped() throws {
        let outcome = loadRows([
            "1,A,x,1,13/1/2011 8:00,1,2,UK",
            "1,A,x,1,2/30/2011 8:00,1,2,UK",
            "1,A,x,1,2/29/2011 8:00,1,2,UK",
            "1,A,x,1,2/29/2012 8:00,1,2,UK",
            "1,A,x,1,12/1/2010 25:00,1,2,UK",
            "1,A,x,1,12/1/2010 8:60,1,2,UK",
            "1,A,x,1,2011-02-30T08:00:00,1,2,UK",
        ])
        let report = try outcome.result.get()
        #expect(report.rows.loaded == 1)
        #expect(report.firstRejects.map(\.line) == [2, 3, 4, 6, 7, 8])
        #expect(report.firstRejects.allSatisfy { $0.reason == "bad_date" })
        #expect(outcome.warehouse.rows.first?.invoiceTime.isoDateTime == "2012-02-29T08:00:00")
    }

    @Test func dateFormsAreReadAsWritten() throws {
        let cases: [(String, DateOrder, String)] = [
            ("12/1/2010 8:26", .mdy, "2010-12-01T08:26:00"),
            ("12/1/10 8:26", .mdy, "2010-12-01T08:26:00"),
            ("1/2/69 0:00", .mdy, "2069-01-02T00:00:00"),
            ("1/2/70 0:00", .mdy, "1970-01-02T00:00:00"),
            ("12/01/2010 08:26:59", .mdy, "2010-12-01T08:26:59"),
            ("12/1/2010", .mdy, "2010-12-01T00:00:00"),
            ("12/1/2010 8:26 PM", .mdy, "2010-12-01T20:26:00"),
            ("12/1/2010 12:05 am", .mdy, "2010-12-01T00:05:00"),
            ("1/12/2010 8:26", .dmy, "2010-12-01T08:26:00"),
            ("25/12/10 18:00", .dmy, "2010-12-25T18:00:00"),
            ("2010-12-01T08:26:00", .mdy, "2010-12-01T08:26:00"),
            ("2010-12-01 08:26", .dmy, "2010-12-01T08:26:00"),
            ("2010-12-01", .mdy, "2010-12-01T00:00:00"),
            ("2010-12-01T08:26:00.123456", .mdy, "2010-12-01T08:26:00"),
            ("2010-12-01T08:26:00Z", .mdy, "2010-12-01T08:26:00"),
            ("2010-12-01T08:26:00+05:30", .mdy, "2010-12-01T08:26:00"),
            ("2010-12-01T23:26:00-0800", .mdy, "2010-12-01T23:26:00"),
        ]
        for (text, order, iso) in cases {
            #expect(LocalDateTime(parsing: text, order: order)?.isoDateTime == iso, "\(text)")
        }
        for bad in ["25/12/2010 8:00", "12/1/201 8:00", "12/1/2010 8:6", "12/1/2010 13:00 PM", "2010-1-01",
                    "2010-12-01T08:26:00+25:00", "12/1/2010 8:26 XM", "12-1-2010"] {
            #expect(LocalDateTime(parsing: bad, order: .mdy) == nil, "\(bad)")
        }
        // The region's order decides, per file.
        let dmy = try #require(loadRows(["1,A,x,1,1/12/2010 8:26,1,2,UK"], region: region("UK", order: .dmy))
            .warehouse.rows.first)
        #expect(dmy.invoiceTime.isoDate == "2010-12-01")
    }

    @Test func fieldsAreNormalized() throws {
        let rows = loadRows([
            "  c536379 , a-b x , \t SOME   DOUBLE\t SPACE  ,  -3 , 12/1/2010 8:26 , 0.85 , 17850.0 ,  United Kingdom ",
            "536380,22,   ,1,12/1/2010 8:26,0,17850.00,",
            "536381,23,x,1,12/1/2010 8:26,1,,EIRE",
            "536382,24,x,1,12/1/2010 8:26,1,17850.5,EIRE",
        ]).warehouse.rows
        #expect(rows.count == 4)
        #expect(rows[0].invoiceNo == "c536379")
        #expect(rows[0].isCancellation)
        #expect(rows[0].stockCode == "A-B X")
        #expect(rows[0].description == "SOME DOUBLE SPACE")
        #expect(rows[0].quantity == -3)
        #expect(rows[0].revenue == decimal("-2.55"))
        #expect(rows[0].customerID == "17850")
        #expect(rows[0].country == "United Kingdom")
        #expect(rows[1].description == nil)
        #expect(rows[1].customerID == "17850")
        #expect(rows[1].country == "")
        #expect(rows[1].unitPrice == .zero)
        #expect(!rows[1].isCancellation)
        #expect(rows[2].customerID == nil)
        #expect(rows[3].customerID == "17850.5")
    }

    @Test func nonProductCodesAreMarkedAndLeftOutOfRevenue() throws {
        let outcome = loadRows([
            "1,post,Postage,1,12/1/2010 8:26,18,2,UK",
            "1,BANK CHARGES,Bank,1,12/1/2010 8:26,15,2,UK",
            "1,gift_0001_10,Voucher,1,12/1/2010 8:26,10,2,UK",
            "1,D,Discount,-1,12/1/2010 8:26,5,2,UK",
            "1,85123A,HEART,2,12/1/2010 8:26,2.55,2,UK",
            "C2,85123A,HEART,-1,12/1/2010 8:27,2.55,2,UK",
        ])
        let rows = outcome.warehouse.rows
        #expect(rows.map(\.isProduct) == [false, false, false, false, true, true])
        #expect(try outcome.result.get().revenue == decimal("2.55"))
        #expect(rows[5].isCancellation)
    }

    @Test func exactDuplicateLinesAreDroppedAndCounted() throws {
        let line = "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom"
        let outcome = loadRows([
            line, line,
            "536365,85123a,WHITE  HANGING HEART ,6,12/01/2010 08:26,2.550,17850.0,United Kingdom",
            "536365,85123A,WHITE HANGING HEART,7,12/1/2010 8:26,2.55,17850,United Kingdom",
        ])
        let report = try outcome.result.get()
        #expect(report.rows == RowCounts(read: 4, loaded: 2, rejected: 0, duplicates: 2))
        #expect(report.revenue == decimal("33.15"))
        #expect(outcome.warehouse.rows.map(\.sourceLine) == [2, 5])
    }

    @Test func duplicatesBeyondTheWindowAreCaughtByTheWarehouse() throws {
        let lines = (0..<50).map { "\($0),A,x,1,12/1/2010 8:26,1,2,UK" }
        let text = ([header] + lines + lines).joined(separator: "\n")
        let settings = ETLSettings(batchSize: 7, dedupeWindowRows: 10)
        let outcome = runLoad(text, settings: settings)
        let report = try outcome.result.get()
        #expect(report.rows == RowCounts(read: 100, loaded: 50, rejected: 0, duplicates: 50))
        #expect(report.revenue == decimal("50"))
        #expect(outcome.warehouse.batches.allSatisfy { $0 <= 7 })
        #expect(outcome.warehouse.batches.count == 15)  // the window misses the repeats: the warehouse sees all 100
        #expect(outcome.progress.count == 100 / 7 + 1)  // after each full batch, and at the end
        #expect(outcome.progress.last == LoadProgress(bytesRead: Int64(text.utf8.count), rowsRead: 100))
    }

    @Test func headerMatchesAnyCaseOrderOrSnakeCaseAndNamesExtraColumns() throws {
        let headerLine = " country ,customer_id,UNIT_PRICE, Invoice Date ,quantity,Notes,description,stock_code,invoiceno"
        let outcome = loadRows(["UK,17850,2.55,12/1/2010 8:26,6,hello,HEART,85123a,536365"], headerLine: headerLine)
        let report = try outcome.result.get()
        #expect(report.extraColumns == ["Notes"])
        let row = try #require(outcome.warehouse.rows.first)
        #expect(row.invoiceNo == "536365")
        #expect(row.stockCode == "85123A")
        #expect(row.quantity == 6)
        #expect(row.unitPrice == decimal("2.55"))
        #expect(row.customerID == "17850")
        #expect(row.country == "UK")
        #expect(row.description == "HEART")
    }

    @Test func trailingCommaColumnIsExpectedButNotListed() throws {
        let report = try loadRows(["1,A,x,1,12/1/2010 8:26,1,2,UK,"], headerLine: header + ",").result.get()
        #expect(report.extraColumns.isEmpty)
        #expect(report.rows.loaded == 1)
    }

    @Test func windows1252FileIsDecoded() throws {
        // "£" is 0xA3 and "€" is 0x80 in Windows-1252; "é" is 0xE9.
        var bytes = Array((header + "\r\n1,A,").utf8)
        bytes += [0x80, 0x20, 0x50, 0x4F, 0x54, 0x20, 0xA3, 0x35]  // "€ POT £5"
        bytes += Array(",1,12/1/2010 8:26,1,2,".utf8) + [0x43, 0x61, 0x66, 0xE9] + [0x0D, 0x0A]  // "Café"
        bytes += Array("2,B,x,1,bad date,1,2,".utf8) + [0xA3] + [0x0D, 0x0A]
        let outcome = runLoad(bytes, encoding: .windows1252)
        let row = try #require(outcome.warehouse.rows.first)
        #expect(row.description == "€ POT £5")
        #expect(row.country == "Café")
        // Rejected lines are written back as UTF-8.
        #expect(outcome.rejects?.text.contains("2,B,x,1,bad date,1,2,£,") == true)
    }

    @Test func windows1252AndUTF8OfTheSameTextGiveTheSameRowKey() throws {
        let utf8 = runLoad(Array((header + "\n1,A,5 £ off,1,12/1/2010 8:26,1,2,UK\n").utf8))
        let cp1252 = runLoad(Array((header + "\n1,A,5 ").utf8) + [0xA3] + Array(" off,1,12/1/2010 8:26,1,2,UK\n".utf8),
                             encoding: .windows1252)
        #expect(utf8.warehouse.rows.map(\.rowKey) == cp1252.warehouse.rows.map(\.rowKey))
        #expect(utf8.warehouse.rows.count == 1)
    }
}

@Suite struct LongFieldTests {
    @Test func longWindows1252FieldsNeedingEveryCopyAreCleaned() throws {
        // 0x80 ("€") becomes 3 bytes of UTF-8, and the doubled spaces force a second copy:
        // far more scratch text than the first block holds.
        let chunk: [UInt8] = [0x80, 0x20, 0x20]
        let description = (0..<100_000).flatMap { _ in chunk }
        var bytes = Array((header + "\n1,A,").utf8) + description + Array(",1,12/1/2010 8:26,1,2,".utf8)
        bytes += description + Array("\n2,B,x,1,12/1/2010 8:26,1,2,UK\n".utf8)
        let outcome = runLoad(bytes, encoding: .windows1252)
        let rows = outcome.warehouse.rows
        #expect(rows.count == 2)
        #expect(rows.first?.description?.utf8.count == 100_000 * 4 - 1)
        #expect(rows.first?.description?.hasPrefix("€ € ") == true)
        #expect(rows.first?.country.utf8.count == 100_000 * 5 - 2)
        #expect(rows.last?.description == "x")
    }
}
