import ETL
import Foundation
import Testing
@testable import Warehouse

/// The insertAll JSON of a row is written as bytes for speed: it must still be the JSON, and
/// the values, that BigQuery's columns expect.
@Suite struct BigQueryRowEncoderTests {
    let upload = UploadContext(uploadID: "up\"1", region: "UK", currency: "GBP", sourceURI: "gs://b/o \\ x.csv",
                               loadedAtMicros: 1_700_000_000_123_456)

    func decoded(_ row: OrderRow) throws -> [String: Any] {
        var out: [UInt8] = []
        BigQueryRowEncoder(upload).appendInsert(row, to: &out)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out)) as? [String: Any])
        #expect(object["insertId"] as? String == "\(upload.uploadID):\(row.rowKey.hex)",
                "the same row of two uploads must not share an insertId: BigQuery would drop one")
        return try #require(object["json"] as? [String: Any])
    }

    @Test func everyColumnHasBigQuerysTextForm() throws {
        let row = OrderRow(rowKey: RowKey(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210), invoiceNo: "C53\"6",
                           stockCode: "85123A", description: "Tab\there\nline \\ ü ☃\u{1}", quantity: -12,
                           invoiceTime: LocalDateTime(secondsSinceEpoch: 1_291_191_960 + 45),  // 2010-12-01T08:26:45
                           unitPrice: ExactDecimal(micros: 2_550_000), revenue: ExactDecimal(micros: -30_600_001),
                           customerID: nil, country: "United Kingdom", isCancellation: true, isProduct: false, sourceLine: 1_234_567)
        let json = try decoded(row)
        #expect(Set(json.keys) == Set(BigQueryWarehouse.orderFields.map(\.name)))
        #expect(json["row_key"] as? String == "0123456789abcdeffedcba9876543210")
        #expect(json["upload_id"] as? String == "up\"1" && json["region"] as? String == "UK")
        #expect(json["invoice_no"] as? String == "C53\"6" && json["stock_code"] as? String == "85123A")
        #expect(json["description"] as? String == "Tab\there\nline \\ ü ☃\u{1}")
        #expect((json["quantity"] as? NSNumber)?.int64Value == -12)
        #expect(json["invoice_ts"] as? String == "2010-12-01T08:26:45")
        #expect(json["invoice_date"] as? String == "2010-12-01")
        #expect((json["invoice_month"] as? NSNumber)?.int64Value == 491)
        #expect(json["unit_price"] as? String == "2.550000")
        #expect(json["revenue"] as? String == "-30.600001")
        #expect(json["currency"] as? String == "GBP")
        #expect(json["customer_id"] is NSNull)
        #expect(json["country"] as? String == "United Kingdom")
        #expect((json["is_cancellation"] as? NSNumber)?.boolValue == true && (json["is_product"] as? NSNumber)?.boolValue == false)
        #expect(json["source_uri"] as? String == "gs://b/o \\ x.csv")
        #expect((json["source_line"] as? NSNumber)?.int64Value == 1_234_567)
        #expect(json["loaded_at"] as? String == BigQueryText.timestamp(micros: upload.loadedAtMicros))
    }

    @Test func datesNumbersAndMoneyAtTheirEdges() throws {
        func row(_ seconds: Int64, price: Int64, quantity: Int64) -> OrderRow {
            OrderRow(rowKey: RowKey(high: 0, low: 1), invoiceNo: "1", stockCode: "A", description: nil, quantity: quantity,
                     invoiceTime: LocalDateTime(secondsSinceEpoch: seconds), unitPrice: ExactDecimal(micros: price),
                     revenue: ExactDecimal(micros: price), customerID: "17850", country: "X", isCancellation: false,
                     isProduct: true, sourceLine: 2)
        }
        let cases: [(Int64, String, String, Int64, String, Int64)] = [
            (-1, "1969-12-31T23:59:59", "1969-12-31", -1, "-0.000001", 0),
            (0, "1970-01-01T00:00:00", "1970-01-01", 0, "0.000000", Int64.min + 1),
            (951_782_400, "2000-02-29T00:00:00", "2000-02-29", 361, "999999999.999999", Int64.max),
        ]
        for (seconds, ts, date, month, money, quantity) in cases {
            let micros = money == "-0.000001" ? -1 : money == "0.000000" ? 0 : 999_999_999_999_999
            let json = try decoded(row(seconds, price: Int64(micros), quantity: quantity))
            #expect(json["invoice_ts"] as? String == ts)
            #expect(json["invoice_date"] as? String == date)
            #expect((json["invoice_month"] as? NSNumber)?.int64Value == month)
            #expect(json["unit_price"] as? String == money)
            #expect((json["quantity"] as? NSNumber)?.int64Value == quantity)
            #expect(json["description"] is NSNull && json["customer_id"] as? String == "17850")
        }
    }
}
