import Access
import Foundation
import Testing
@testable import Portal

/// Bucket notifications: which objects are loaded, and what a Pub/Sub push says.
@Suite struct ObjectEventTests {
    @Test func thePatternGivesTheRegionAndTheFileNameOfObjectsInsideIt() throws {
        let pattern = try ObjectPattern("incoming/{region}/{name}")
        #expect(pattern.match("incoming/IN/march.csv")?.region == "IN")
        #expect(pattern.match("incoming/IN/march.csv")?.fileName == "march.csv")
        for outside in ["incoming/march.csv", "incoming/IN/2026/march.csv", "uploads/IN/2026/01/02/0123/IN.csv",
                        "Incoming/IN/march.csv", "incoming//march.csv", "incoming/IN/", "other/IN/march.csv"] {
            #expect(pattern.match(outside) == nil, "\(outside)")
        }
        let byName = try ObjectPattern("drop/{name}")
        #expect(byName.match("drop/usa.csv").map { [$0.region ?? "-", $0.fileName] } == ["-", "usa.csv"])
        #expect(byName.match("drop/sub/usa.csv") == nil)
    }

    @Test func aPatternThatCannotWorkIsRefusedWithItsReason() {
        for text in ["incoming/{region}", "{name}/incoming", "incoming/{region}/{region}/{name}", "incoming//{name}",
                     "/incoming/{name}", "in{coming}/{name}", "{name}/{name}", ""] {
            #expect(throws: ConfigError.self, "\(text)") { try ObjectPattern(text) }
        }
        var config = PortalConfig()
        config.gcsEvents.enabled = true
        config.gcsEvents.audience = "https://sales.example.com/api/events/gcs"
        config.gcsEvents.serviceAccount = "push@p.iam.gserviceaccount.com"
        #expect(throws: ConfigError.self, "embedded mode has no bucket") { try config.validate() }
        config.storage.mode = "gcp"
        config.gcp.project = "p"
        #expect(throws: Never.self) { try config.validate() }
        config.gcsEvents.serviceAccount = ""
        #expect(throws: ConfigError.self) { try config.validate() }
    }

    func push(attributes: [String: String]?, data: [String: Any]? = nil) throws -> [UInt8] {
        var message: [String: Any] = ["messageId": "17", "publishTime": "2026-03-01T10:00:00.000Z"]
        if let attributes { message["attributes"] = attributes }
        if let data { message["data"] = Data(try JSONSerialization.data(withJSONObject: data)).base64EncodedString() }
        return Array(try JSONSerialization.data(withJSONObject: ["message": message, "subscription": "projects/p/subscriptions/s"]))
    }

    @Test func aPushOfANotificationNamesItsObjectAndGeneration() throws {
        let body = try push(
            attributes: ["eventType": "OBJECT_FINALIZE", "bucketId": "sales-uploads", "objectId": "incoming/IN/IN.csv",
                         "objectGeneration": "1772359200123456", "payloadFormat": "JSON_API_V1"],
            data: ["kind": "storage#object", "bucket": "sales-uploads", "name": "incoming/IN/IN.csv",
                   "generation": "1772359200123456", "size": "96913"])
        let event = try ObjectEvent.parse(body)
        #expect(event == ObjectEvent(eventType: "OBJECT_FINALIZE", bucket: "sales-uploads", objectName: "incoming/IN/IN.csv",
                                     generation: "1772359200123456", sizeBytes: 96913, messageID: "17"))
        #expect(event.uri == "gs://sales-uploads/incoming/IN/IN.csv")
        // Only the data, no attributes: the object resource says the same.
        let fromData = try ObjectEvent.parse(try push(
            attributes: ["eventType": "OBJECT_FINALIZE"],
            data: ["bucket": "sales-uploads", "name": "incoming/IN/IN.csv", "generation": "1772359200123456", "size": "96913"]))
        #expect(fromData == event)
    }

    @Test func everyDeliveryOfAGenerationNamesOneUploadAndANewGenerationAnother() throws {
        let first = UploadID.forObject(bucket: "b", name: "incoming/IN/IN.csv", generation: "1")
        #expect(UploadID.isValid(first))
        #expect(first == UploadID.forObject(bucket: "b", name: "incoming/IN/IN.csv", generation: "1"))
        #expect(first != UploadID.forObject(bucket: "b", name: "incoming/IN/IN.csv", generation: "2"))
        #expect(first != UploadID.forObject(bucket: "c", name: "incoming/IN/IN.csv", generation: "1"))
    }

    @Test func aBodyThatIsNoNotificationIsABadRequest() throws {
        for body in [Array("not json".utf8), Array(#"{"subscription": "s"}"#.utf8), try push(attributes: nil),
                     try push(attributes: ["eventType": "OBJECT_FINALIZE", "bucketId": "b", "objectId": "o"]),
                     try push(attributes: ["eventType": "OBJECT_FINALIZE", "bucketId": "b", "objectId": "o", "objectGeneration": "x1"])] {
            #expect(throws: PortalError.self) { try ObjectEvent.parse(body) }
        }
        // Other events need no object details: they are acknowledged and ignored.
        #expect(try ObjectEvent.parse(try push(attributes: ["eventType": "OBJECT_DELETE"])).eventType == "OBJECT_DELETE")
    }
}
