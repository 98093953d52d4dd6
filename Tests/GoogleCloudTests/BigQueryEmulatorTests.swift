import Support
import Testing
@testable import GoogleCloud

func bigQueryClient(endpoint: String? = nil, pageSize: Int? = nil, gzip: Bool = true) throws -> BigQueryClient {
    GoogleCloud.globalInit()
    var settings = BigQuerySettings()
    settings.retryPolicy = quickRetries
    settings.pageSize = pageSize
    settings.gzipInsertAll = gzip
    return try BigQueryClient(endpoint: endpoint ?? Emulators.bigQueryHost, project: Emulators.project,
                              credentials: AnonymousCredentials(), settings: settings)
}

let salesFields = [
    TableField("row_key", "STRING", mode: "REQUIRED"),
    TableField("region", "STRING"),
    TableField("quantity", "INT64"),
    TableField("revenue", "NUMERIC"),
    TableField("invoice_date", "DATE"),
    TableField("is_product", "BOOL"),
    TableField("description", "STRING"),
]

func salesRow(_ key: String, region: String, quantity: Int64, revenue: String, date: String, description: String? = nil) -> InsertRow {
    var json = JSONWriter()
    json.beginObject()
    json.field("row_key", key)
    json.field("region", region)
    json.field("quantity", quantity)
    json.field("revenue", revenue)
    json.field("invoice_date", date)
    json.field("is_product", true)
    json.field("description", description)
    json.endObject()
    return InsertRow(insertID: key, json: json.bytes)
}

@Suite(.enabled(if: Emulators.hasBigQuery, "BIGQUERY_EMULATOR_HOST is not set: run scripts/emulators.sh start"))
struct BigQueryEmulatorTests {
    /// A fresh dataset and table for one test.
    static func freshTable(_ client: BigQueryClient) throws -> (String, String) {
        let dataset = "ds_\(UInt32.random(in: 0...UInt32.max))"
        #expect(try client.createDatasetIfMissing(dataset))
        #expect(try client.createDatasetIfMissing(dataset) == false)
        // Not partitioned by day: the rows are from 2010, and BigQuery streams into a day-partitioned
        // table only within 5 years of today.
        let definition = TableDefinition(fields: salesFields, clusteringFields: ["region"])
        #expect(try client.createTableIfMissing(dataset: dataset, table: "orders", definition: definition))
        #expect(try client.createTableIfMissing(dataset: dataset, table: "orders", definition: definition) == false)
        return (dataset, "orders")
    }

    @Test func insertedRowsComeBackFromANamedParameterQueryWithExactNumerics() throws {
        let client = try bigQueryClient()
        let (dataset, table) = try Self.freshTable(client)
        let rows = [
            salesRow("k1", region: "UK", quantity: 3, revenue: "32.75", date: "2010-12-01", description: "Tab\t\"quoted\" ü"),
            salesRow("k2", region: "UK", quantity: -1, revenue: "-10.10", date: "2010-12-02"),
            salesRow("k3", region: "IN", quantity: 5, revenue: "0.05", date: "2010-12-03"),
        ]
        #expect(try client.insertAll(dataset: dataset, table: table, rows: rows).isEmpty)
        let result = try client.query(
            "SELECT region, SUM(revenue) AS revenue, SUM(quantity) AS units, COUNT(*) AS n FROM \(client.qualified(dataset, table)) "
                + "WHERE region = @region AND invoice_date BETWEEN @from AND @to GROUP BY region",
            parameters: [.string("region", "UK"), .date("from", "2010-12-01"), .date("to", "2010-12-31")])
        #expect(result.rows.count == 1)
        #expect(result.value(0, "region").string == "UK")
        #expect(result.value(0, "revenue").string.flatMap(Double.init) == 22.65)
        #expect(result.value(0, "units").int64 == 2)
        let text = try client.query("SELECT description FROM \(client.qualified(dataset, table)) WHERE row_key = @k",
                                    parameters: [.string("k", "k1")])
        #expect(text.value(0, "description").string == "Tab\t\"quoted\" ü")
    }

    @Test func anInvalidRowIsReportedAndTheValidOnesLand() throws {
        let client = try bigQueryClient(gzip: false)
        let (dataset, table) = try Self.freshTable(client)
        var bad = JSONWriter()
        bad.beginObject(); bad.field("row_key", "bad"); bad.field("quantity", "not a number"); bad.endObject()
        let rows = [salesRow("a", region: "UK", quantity: 1, revenue: "1.00", date: "2010-12-01"),
                    InsertRow(insertID: "bad", json: bad.bytes),
                    salesRow("c", region: "UK", quantity: 1, revenue: "2.00", date: "2010-12-01")]
        let errors = try client.insertAll(dataset: dataset, table: table, rows: rows)
        #expect(errors.map(\.index) == [1])
        #expect(errors.first?.isStopped == false)
        let count = try client.query("SELECT COUNT(*) AS n FROM \(client.qualified(dataset, table))")
        #expect(count.value(0, "n").int64 == 2)
    }

    @Test func aLargeResultIsReadAcrossPages() throws {
        let client = try bigQueryClient(pageSize: 7)
        let (dataset, table) = try Self.freshTable(client)
        let rows = (0..<50).map { salesRow("p\($0)", region: "USA", quantity: Int64($0), revenue: "1.00", date: "2011-01-01") }
        #expect(try client.insertAll(dataset: dataset, table: table, rows: rows).isEmpty)
        let result = try client.query("SELECT quantity FROM \(client.qualified(dataset, table)) ORDER BY quantity")
        #expect(result.rows.map { $0[0].int64 ?? -1 } == (0..<50).map { Int64($0) })
        #expect(result.pages > 1)
    }

    @Test func aBadQueryIsAnErrorEvenWhenAnsweredWith200() throws {
        let client = try bigQueryClient()
        #expect(throws: GoogleCloudError.self) {
            _ = try client.query("SELECT no_such_column FROM \(client.qualified("no_such_dataset", "t"))")
        }
    }

    @Test func aViewIsCreatedOnceAndQueried() throws {
        let client = try bigQueryClient()
        let (dataset, table) = try Self.freshTable(client)
        let sql = "SELECT region, COUNT(*) AS n FROM \(client.qualified(dataset, table)) GROUP BY region"
        #expect(try client.createViewIfMissing(dataset: dataset, view: "by_region", sql: sql))
        #expect(try client.createViewIfMissing(dataset: dataset, view: "by_region", sql: sql) == false)
        _ = try client.insertAll(dataset: dataset, table: table,
                                 rows: [salesRow("v1", region: "IN", quantity: 1, revenue: "1", date: "2011-01-01")])
        let result = try client.query("SELECT n FROM \(client.qualified(dataset, "by_region")) WHERE region = 'IN'")
        #expect(result.value(0, "n").int64 == 1)
    }
}
