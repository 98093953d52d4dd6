import ETL
import Testing

@testable import Warehouse

/// The text BigQuery sends and receives for our values.
@Suite struct BigQueryTextTests {
    @Test func numericTextRoundTripsExactly() {
        for micros: Int64 in [0, 1, -1, 2_550_000, -27_500_000, 1_234, 9_223_372_036_854_775_807] {
            let value = ExactDecimal(micros: micros)
            #expect(BigQueryText.parseDecimal(BigQueryText.decimal(value)) == value)
        }
        #expect(BigQueryText.decimal(ExactDecimal(micros: -12_345_600)) == "-12.345600")
        // What the emulator and BigQuery answer: nine places, or none.
        #expect(BigQueryText.parseDecimal("32.750000000") == ExactDecimal(micros: 32_750_000))
        #expect(BigQueryText.parseDecimal("-1") == ExactDecimal(micros: -1_000_000))
        #expect(BigQueryText.parseDecimal("1E2") == nil)
        #expect(BigQueryText.parseDecimal(nil) == nil)
    }

    @Test func datesAndTimesAreISO() {
        // 2010-12-01T08:26:00
        let time = LocalDateTime(secondsSinceEpoch: 1_291_191_960)
        #expect(BigQueryText.dateTime(time) == "2010-12-01T08:26:00")
        #expect(BigQueryText.date(days: time.dayNumber) == "2010-12-01")
        #expect(BigQueryText.parseDate("2010-12-01") == time.dayNumber)
        #expect(BigQueryText.timestamp(micros: 1_291_191_960_000_042) == "2010-12-01 08:26:00.000042")
        #expect(BigQueryText.hex(RowKey(high: 0x0102, low: 0xff)) == "0000000000000102" + "00000000000000ff")
    }
}
