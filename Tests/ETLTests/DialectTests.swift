import Testing
@testable import ETL

/// Files as spreadsheets save them in other locales: semicolons with decimal commas, tabs,
/// pipes. The dialect is told from the header line and gives exactly the rows of the original.
@Suite struct DialectTests {
    /// `bytes` (a comma file) written again with `delimiter`, unit prices with a decimal comma
    /// when `decimalComma`, fields quoted only where they must be.
    static func resave(_ bytes: [UInt8], delimiter: UInt8, decimalComma: Bool) -> [UInt8] {
        var reader = CSVReader()
        var lines: [[String]] = []
        let collect = { (event: CSVEvent) in
            if case .record(let record) = event { lines.append(record.strings) }
        }
        bytes.withUnsafeBytes { reader.feed($0, collect) }
        reader.finish(collect)
        let priceField = lines[0].firstIndex { $0.hasSuffix("UnitPrice") }!
        let separator = String(UnicodeScalar(delimiter))
        var text = ""
        for (number, fields) in lines.enumerated() {
            let written = fields.enumerated().map { index, field -> String in
                var field = field
                if decimalComma && number > 0 && index == priceField { field = field.replacingOccurrences(of: ".", with: ",") }
                let mustQuote = field.contains(separator) || field.contains("\"") || field.contains("\n") || field.contains("\r")
                return mustQuote ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
            }
            text += written.joined(separator: separator) + "\r\n"
        }
        return Array(text.utf8)
    }

    @Test(arguments: [(";", true), ("\t", false), ("|", false), (";", false)])
    func aFileSavedInAnotherDialectLoadsTheRowsOfTheOriginal(delimiter: String, decimalComma: Bool) throws {
        let original = try fixture("generated-UK-3000.csv")
        let expected = runLoad(original, region: region("UK"))
        let byte = UInt8(ascii: UnicodeScalar(delimiter)!)
        let resaved = Self.resave(original, delimiter: byte, decimalComma: decimalComma)
        // Chunks that split the header line: the dialect is told from the whole line.
        for chunk in [7, 4093, 1 << 16] {
            let outcome = runLoad(resaved, region: region("UK"), chunk: chunk)
            let report = try outcome.result.get()
            #expect(report.rows == RowCounts(read: 3000, loaded: 2964, rejected: 0, duplicates: 36), "chunk \(chunk)")
            #expect(report.revenue == decimal("302563.91"))
            #expect(report.dialect == CSVDialect(delimiter: byte))
            #expect(outcome.warehouse.rows == expected.warehouse.rows, "chunk \(chunk)")
        }
    }

    @Test func theIndiaSeedFileWithSemicolonsAndDecimalCommasMatchesTheReference() throws {
        let resaved = Self.resave(try fixture("IN.csv"), delimiter: UInt8(ascii: ";"), decimalComma: true)
        #expect(String(decoding: resaved.prefix(240), as: UTF8.self).contains("8,5;12431;India"))
        let report = try runLoad(resaved, region: region("IN")).result.get()
        #expect(report.rows == RowCounts(read: 1259, loaded: 1258, rejected: 0, duplicates: 1))
        #expect(report.revenue == decimal("136922.50"))
        #expect(report.dialect.delimiterName == "semicolon" && report.dialect.decimalComma)
    }

    @Test func aCommaInsideAQuotedHeaderNameDoesNotMakeItACommaFile() {
        let header = "\"Invoice,No\";InvoiceNo;StockCode;Description;Quantity;InvoiceDate;UnitPrice;CustomerID;Country"
        let dialect = Array((header + "\n").utf8).withUnsafeBytes {
            CSVDialect.sniff($0, encoding: .utf8, maxRecordBytes: 1 << 20)
        }
        #expect(dialect == CSVDialect(delimiter: UInt8(ascii: ";")))
    }

    @Test func aSemicolonFileMissingAColumnListsTheColumnsItHas() {
        let outcome = runLoad("InvoiceNo;StockCode;Description;Quantity;InvoiceDate;Price;CustomerID;Country\n"
            + "1;A;x;1;12/1/2010 8:26;2,5;17850;UK\n")
        #expect(outcome.error == .missingColumns(
            ["UnitPrice"], found: ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "CustomerID", "Country"]))
        #expect(outcome.error?.message.contains("the header has 8: InvoiceNo, StockCode") == true)
    }

    @Test func aDialectGivenByTheUploaderIsUsedAsItIs() {
        let text = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n1,A,x,1,12/1/2010 8:26,2.5,17850,UK\n"
        let forced = runLoad(Array(text.utf8), dialect: CSVDialect(delimiter: UInt8(ascii: ";")))
        #expect(forced.error?.code == "missing_columns")
        let report = runLoad(Array(text.utf8), dialect: .standard).report
        #expect(report?.rows.loaded == 1)
        #expect(CSVDialect(name: "tab") == CSVDialect(delimiter: 9, decimalComma: false))
        #expect(CSVDialect(name: ";") == CSVDialect(delimiter: UInt8(ascii: ";"), decimalComma: true))
        #expect(CSVDialect(name: "colon") == nil)
    }

    @Test func decimalCommasWithAndWithoutThousandsGroups() {
        func parse(_ text: String) -> ExactDecimal? {
            Array(text.utf8).withUnsafeBufferPointer { ExactDecimal.parse(decimalComma: $0) }
        }
        #expect(parse("2,55") == decimal("2.55"))
        #expect(parse("-0,5") == decimal("-0.5"))
        #expect(parse(" 1.234,50 ") == decimal("1234.5"))
        #expect(parse("12.345.678,9") == decimal("12345678.9"))
        #expect(parse("1234,5") == decimal("1234.5"))
        #expect(parse("2.55") == decimal("2.55"))  // no comma: written with a decimal point
        #expect(parse("7") == decimal("7"))
        #expect(parse("1.23,4") == nil)
        #expect(parse("1234.567,8") == nil)
        #expect(parse("1,2,3") == nil)
        #expect(parse("1,2.3") == nil)
        #expect(parse("abc,5") == nil)
    }

    @Test func aBadDecimalCommaPriceIsRejectedWithTheWayItMustBeWritten() throws {
        let outcome = runLoad("InvoiceNo;StockCode;Description;Quantity;InvoiceDate;UnitPrice;CustomerID;Country\n"
            + "1;A;x;1;12/1/2010 8:26;1.23,4;17850;UK\n2;A;x;1;12/1/2010 8:26;2,50;17850;UK\n")
        let report = try outcome.result.get()
        #expect(report.rows == RowCounts(read: 2, loaded: 1, rejected: 1, duplicates: 0))
        #expect(report.firstRejects.first?.reason == "bad_price")
        #expect(report.firstRejects.first?.message.contains("2,55 or 1.234,50") == true)
        #expect(report.revenue == decimal("2.5"))
    }
}
