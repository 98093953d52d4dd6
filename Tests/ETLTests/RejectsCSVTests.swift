import Testing
@testable import ETL

/// The rejects CSV: the file's header plus `error`, each rejected line's fields as they were.
@Suite struct RejectsCSVTests {
    @Test func rejectedLinesAreWrittenWithAnErrorColumnAndQuoting() throws {
        let outcome = runLoad(header + ",Notes\r\n"
            + "1,A,\"say \"\"hi\"\", ok\",1,12/1/2010 8:26,1,2,UK,n\r\n"
            + "2,B,\"two\nlines\",x,12/1/2010 8:26,1,2,UK,n\r\n"
            + "3,C,fine,1,2/30/2011 8:00,1,2,UK,n\r\n"
            + "4,D,short\r\n"
            + "5,E,long,1,12/1/2010 8:26,1,2,UK,n,\"x,y\",z\r\n")
        let report = try outcome.result.get()
        #expect(report.rows == RowCounts(read: 5, loaded: 1, rejected: 4, duplicates: 0))
        #expect(report.rejectsWritten == 4)
        let writer = try #require(outcome.rejects)
        #expect(writer.finished)
        #expect(report.rejectsObject == StoredObject(uri: writer.uri, sizeBytes: Int64(writer.bytes.count)))
        let expected = header + ",Notes,error\r\n"
            + "2,B,\"two\nlines\",x,12/1/2010 8:26,1,2,UK,n,line 3: bad_quantity: Quantity 'x' is not a whole number\r\n"
            + "3,C,fine,1,2/30/2011 8:00,1,2,UK,n,line 5: bad_date: InvoiceDate '2/30/2011 8:00' is not a valid "
            + "M/D/YYYY H:MM or ISO 8601 date and time\r\n"
            // Short and long lines keep `error` in the last column.
            + "4,D,short,,,,,,,\"line 6: bad_field_count: expected 9 fields, found 3\"\r\n"
            + "5,E,long,1,12/1/2010 8:26,1,2,UK,\"n,x,y,z\",\"line 7: bad_field_count: expected 9 fields, found 11\"\r\n"
        #expect(writer.text == expected)
    }

    @Test func rejectsWriterIsNotCreatedWhenNothingIsRejected() throws {
        let outcome = runLoad(header + "\n1,A,x,1,12/1/2010 8:26,1,2,UK\n")
        #expect(outcome.rejects == nil)
        #expect(try outcome.result.get().rejectsObject == nil)
    }

    @Test func warehouseRejectsAreCountedListedAndWrittenWithTheirFields() throws {
        let warehouse = MemoryWarehouse()
        warehouse.state.withLock { $0.refuseLines = [3] }
        let outcome = runLoad(header + "\n"
            + "1,A,x,1,12/1/2010 8:26,1.5,2,UK\n"
            + "2,B,\"q, r\",2,12/1/2010 8:26,10,2,UK\n"
            + "3,C,x,1,12/1/2010 8:26,1,2,UK\n", warehouse: warehouse)
        let report = try outcome.result.get()
        #expect(report.rows == RowCounts(read: 3, loaded: 2, rejected: 1, duplicates: 0))
        #expect(report.revenue == decimal("2.5"))
        #expect(report.firstRejects == [RejectedRow(line: 3, reason: "invalid", message: "refused by warehouse")])
        #expect(outcome.rejects?.text.hasSuffix("2,B,\"q, r\",2,12/1/2010 8:26,10,2,UK,line 3: invalid: refused by warehouse\r\n")
            == true)
    }

    @Test func onlyTheFirstRejectsAreListedButAllAreWritten() throws {
        let lines = (0..<30).map { "\($0),A,x,1,never,1,2,UK" }
        let outcome = runLoad(([header] + lines + ["ok,A,x,1,12/1/2010 8:26,1,2,UK"]).joined(separator: "\n"))
        let report = try outcome.result.get()
        #expect(report.firstRejects.count == 20)
        #expect(report.rejectsWritten == 30)
        #expect(report.rows == RowCounts(read: 31, loaded: 1, rejected: 30, duplicates: 0))
    }

    @Test func cellsThatSpreadsheetsWouldRunAsFormulasAreNeutralised() throws {
        // OWASP's CSV injection: =, +, -, @, tab and CR at the start of a cell; plain negative numbers stay numbers.
        let outcome = runLoad(header + "\r\n"
            + "=cmd|' /C calc'!A0,+SUM(1),@x,-10,never,-2.55,\"\tTAB\",UK\r\n"
            + "-1+1,A,x,1,never,1,2,UK\r\n")
        let writer = try #require(outcome.rejects)
        let lines = writer.text.split(separator: "\r\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[1].hasPrefix("'=cmd|' /C calc'!A0,'+SUM(1),'@x,-10,never,-2.55,'\tTAB,UK,"))
        #expect(lines[2].hasPrefix("'-1+1,A,x,1,never,1,2,UK,"))
        #expect(RejectsWriter.isFormulaLike(Array("\rX".utf8)[...]))
        #expect(!RejectsWriter.isFormulaLike(Array("-0.5".utf8)[...]))
        #expect(RejectsWriter.isFormulaLike(Array("-.5".utf8)[...]))
        #expect(!RejectsWriter.isFormulaLike(Array("plain".utf8)[...]))
    }
}
