import Testing
@testable import ETL

/// The real seed files (and a generated one with every quirk of the generator: quoted commas,
/// cancellations, non-product codes, blank customers and descriptions, zero prices, duplicate
/// lines) against numbers computed independently by Fixtures/reference.py (Python csv +
/// decimal). Regenerate them with:
///     python3 Tests/ETLTests/Fixtures/reference.py Tests/ETLTests/Fixtures/IN.csv:IN \
///         Tests/ETLTests/Fixtures/usa.csv:USA Tests/ETLTests/Fixtures/generated-UK-3000.csv:UK
/// which printed:
///     IN.csv  region=IN  read=1259 loaded=1258 rejected=0 duplicates=1  revenue=136922.500000
///     usa.csv region=USA read=291  loaded=291  rejected=0 duplicates=0  revenue=1730.920000
///     generated-UK-3000.csv region=UK read=3000 loaded=2964 rejected=0 duplicates=36 revenue=302563.910000
/// (generated-UK-3000.csv is `gen_online_retail.py --rows 3000 --region UK --seed 7`.)
@Suite struct SeedFileTests {
    @Test func indiaFileMatchesTheReferenceComputation() throws {
        let outcome = runLoad(try fixture("IN.csv"), region: region("IN"))
        let report = try outcome.result.get()
        #expect(report.rows == RowCounts(read: 1259, loaded: 1258, rejected: 0, duplicates: 1))
        #expect(report.revenue == decimal("136922.50"))
        #expect(report.firstRejects.isEmpty)
        #expect(report.extraColumns.isEmpty)
        #expect(outcome.rejects == nil)
        #expect(outcome.warehouse.rows.count == 1258)
    }

    @Test func usaFileMatchesTheReferenceComputation() throws {
        let outcome = runLoad(try fixture("usa.csv"), region: region("USA"))
        let report = try outcome.result.get()
        #expect(report.rows == RowCounts(read: 291, loaded: 291, rejected: 0, duplicates: 0))
        #expect(report.revenue == decimal("1730.92"))
        #expect(outcome.warehouse.rows.count == 291)
    }

    @Test func generatedFileMatchesTheReferenceWhateverTheBatchAndWindow() throws {
        let bytes = try fixture("generated-UK-3000.csv")
        for settings in [ETLSettings(), ETLSettings(batchSize: 97, dedupeWindowRows: 5), ETLSettings(dedupeWindowRows: 0)] {
            let outcome = runLoad(bytes, region: region("UK"), settings: settings, chunk: 4093)
            let report = try outcome.result.get()
            #expect(report.rows == RowCounts(read: 3000, loaded: 2964, rejected: 0, duplicates: 36))
            #expect(report.revenue == decimal("302563.91"))
            #expect(outcome.warehouse.rows.count == 2964)
        }
    }

    @Test func seedRowsAreNormalizedAsTheTableSays() throws {
        let rows = runLoad(try fixture("IN.csv"), region: region("IN")).warehouse.rows
        let first = try #require(rows.first)
        #expect(first.invoiceNo == "536389")
        #expect(first.stockCode == "22941")
        #expect(first.description == "CHRISTMAS LIGHTS 10 REINDEER")
        #expect(first.quantity == 6)
        #expect(first.invoiceTime.isoDateTime == "2010-12-01T10:03:00")
        #expect(first.unitPrice == decimal("8.5"))
        #expect(first.revenue == decimal("51"))
        #expect(first.customerID == "12431")
        #expect(first.country == "India")
        #expect(first.sourceLine == 2)
        #expect(first.rowKey.high == UInt64(first.invoiceTime.secondsSinceEpoch))
        // "SET OF 3 COLOURED  FLYING DUCKS" has a doubled space; "…GAME " a trailing one.
        #expect(rows[3].description == "SET OF 3 COLOURED FLYING DUCKS")
        #expect(rows[2].description == "VINTAGE HEADS AND TAILS CARD GAME")
        // A quoted field with doubled quotes.
        #expect(rows.contains { $0.description == "CHARLIE+LOLA\"EXTREMELY BUSY\" SIGN" })
        #expect(rows.contains { $0.isCancellation && $0.quantity < 0 && $0.invoiceNo.hasPrefix("C") })
        #expect(rows.contains { $0.stockCode == "POST" && !$0.isProduct })
    }

    @Test func sameFileGivesTheSameRowKeysEveryRunAndChunking() throws {
        let bytes = try fixture("usa.csv")
        let once = runLoad(bytes, region: region("USA"), chunk: 1 << 16).warehouse.rows.map(\.rowKey)
        let again = runLoad(bytes, region: region("USA"), chunk: 7).warehouse.rows.map(\.rowKey)
        #expect(once == again)
        #expect(Set(once).count == once.count)
        // Another region gives other keys for the same lines.
        let other = runLoad(bytes, region: region("UK")).warehouse.rows.map(\.rowKey)
        #expect(Set(other).isDisjoint(with: once))
    }

    @Test func reloadingIntoTheSameWarehouseCountsEveryRowAsDuplicate() throws {
        let warehouse = MemoryWarehouse()
        _ = runLoad(try fixture("usa.csv"), region: region("USA"), warehouse: warehouse)
        let second = try runLoad(try fixture("usa.csv"), region: region("USA"), warehouse: warehouse).result.get()
        #expect(second.rows == RowCounts(read: 291, loaded: 0, rejected: 0, duplicates: 291))
        #expect(second.revenue == .zero)
    }
}
