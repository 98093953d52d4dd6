import Foundation
import Support
import Testing

@testable import Portal

@Suite struct RegionAndNamingTests {
    let resolver = RegionResolver(regions: RegionConfig.defaults)

    @Test(arguments: [
        ("IN.csv", "IN"), ("usa.csv", "USA"), ("UK.CSV", "UK"), ("uk_2011-03.csv", "UK"),
        ("India sales.csv", "IN"), ("dir/US.csv", "USA"), ("C:\\exports\\gb.csv", "UK"),
    ])
    func theFileNameNamesTheRegion(fileName: String, code: String) {
        #expect(resolver.region(forFileName: fileName)?.code == code)
    }

    @Test(arguments: ["sales.csv", "FR.csv", "", ".csv", "INDIANA.csv"])
    func anUnknownFileNameHasNoRegion(fileName: String) {
        #expect(resolver.region(forFileName: fileName) == nil)
    }

    @Test func regionFieldsMatchCodesAndAliasesInAnyCase() {
        #expect(resolver.region(named: " usa ")?.code == "USA")
        #expect(resolver.region(named: "United Kingdom")?.code == "UK")
        #expect(resolver.region(named: "mars") == nil)
    }

    @Test(arguments: [
        ("../../etc/passwd", "passwd"), ("IN.csv", "IN.csv"), ("my file (1).csv", "my_file__1_.csv"),
        (".hidden.csv", "hidden.csv"), ("..", "upload.csv"), ("", "upload.csv"), ("ventes-été.csv", "ventes-__t__.csv"),
        ("a\\b\\c.csv", "c.csv"),
    ])
    func clientFileNamesBecomeSafeObjectNames(input: String, expected: String) {
        #expect(ObjectNaming.sanitize(input) == expected)
    }

    @Test func objectNamesFollowRegionDateAndUpload() {
        // 2011-04-19T16:19:00Z
        let micros: Int64 = 1_303_229_940 * 1_000_000
        let name = ObjectNaming.rawFile(region: "USA", uploadID: "0123456789abcdef0123", fileName: "usa.csv", atMicros: micros)
        #expect(name == "uploads/USA/2011/04/19/0123456789abcdef0123/usa.csv")
        #expect(ObjectNaming.rejects(region: "USA", uploadID: "0123456789abcdef0123", atMicros: micros)
            == "uploads/USA/2011/04/19/0123456789abcdef0123/rejects.csv")
    }

    @Test func uploadIDsAreUniqueOrderedAndValid() {
        let ids = (0..<200).map { _ in UploadID.make() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy(UploadID.isValid))
        #expect(!UploadID.isValid("../etc"))
        #expect(!UploadID.isValid("0123456789ABCDEF0123"))
    }

    @Test func jsonWriterEscapesEverythingJSONNeeds() throws {
        var json = JSONWriter()
        json.beginObject()
        json.field("text", "quote \" backslash \\ newline \n tab \t bell \u{07} pound £")
        json.field("none", nil)
        json.field("count", -42)
        json.key("list")
        json.beginArray()
        json.value(true)
        json.value("x")
        json.endArray()
        json.endObject()
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: Any])
        #expect(parsed["text"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{07} pound £")
        #expect(parsed["none"] is NSNull)
        #expect((parsed["count"] as? NSNumber)?.intValue == -42)
        #expect((parsed["list"] as? [Any])?.count == 2)
    }

    @Test func averageOrderValueRoundsHalfAwayFromZero() {
        let summary = { (micros: Int64, orders: Int) in
            ReportJSON.averageOrderValue(.init(revenue: .init(micros: micros), orders: orders, cancellations: 0, units: 0, customers: 0))
        }
        #expect(summary(10_000_000, 3) == "3.33")
        #expect(summary(20_000_000, 3) == "6.67")
        #expect(summary(-20_000_000, 3) == "-6.67")
        #expect(summary(5_000_000, 0) == "0.00")
    }
}
