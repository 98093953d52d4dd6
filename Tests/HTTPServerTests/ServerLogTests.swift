import Foundation
import Support
import Testing
@testable import HTTPServer

/// Request ids and log lines: what a client sends is taken only when it is safe to log and to
/// echo; JSON lines stay valid JSON whatever the message holds; text lines stay one line.
@Suite struct ServerLogTests {
    func headers(_ fields: [(String, String)]) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for (name, value) in fields { headers.add(name, value) }
        return headers
    }

    @Test func aClientRequestIdIsTakenOnlyWhenItIsShortAndPlain() {
        #expect(RequestID.from(headers([("X-Request-Id", "deploy-check:42_a.b")])).id == "deploy-check:42_a.b")
        for bad in ["two words", "a\u{1}b", "é", String(repeating: "x", count: 129), "", "a\"b", "a/b"] {
            #expect(RequestID.from(headers([("X-Request-Id", bad)])).id == nil, "\(bad)")
        }
        #expect(RequestID.from(headers([("X-Request-Id", String(repeating: "x", count: 128))])).id?.count == 128)
    }

    @Test func aTraceparentGivesTheTraceIdUnlessTheClientNamedTheRequest() {
        let traceparent = ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        let traced = RequestID.from(headers([traceparent]))
        #expect(traced.id == "4bf92f3577b34da6a3ce929d0e0e4736" && traced.trace == traced.id)
        let both = RequestID.from(headers([traceparent, ("X-Request-Id", "mine")]))
        #expect(both.id == "mine" && both.trace == "4bf92f3577b34da6a3ce929d0e0e4736")
        for bad in ["00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // all-zero trace id
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // all-zero parent
                    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version ff
                    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
                    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", "garbage"] {
            #expect(RequestID.from(headers([("traceparent", bad)])).trace == nil, "\(bad)")
        }
    }

    @Test func jsonLinesAreValidJSONWhateverTheMessageHolds() throws {
        let nasty = "quote \" backslash \\ newline \n tab \t nul \u{0} del \u{7F} é ✓ 🙂"
        var line = JSONWriter()
        line.beginObject()
        line.field("message", nasty)
        line.field("status", 503)
        line.object("httpRequest") { $0.field("requestUrl", "/a\nb") }
        line.endObject()
        let bytes = line.line()
        #expect(bytes.last == UInt8(ascii: "\n") && bytes.dropLast().allSatisfy { $0 != UInt8(ascii: "\n") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(object["message"] as? String == nasty)
        #expect(object["status"] as? Int == 503)
        #expect((object["httpRequest"] as? [String: Any])?["requestUrl"] as? String == "/a\nb")
    }

    @Test func textLinesStayOneLineAndEndWithTheRequestId() {
        let line = ServerLog.textLine("upload of a\nforged line.csv\r", requestID: "abc-1")
        #expect(String(decoding: line, as: UTF8.self) == "upload of a?forged line.csv? [abc-1]\n")
    }

    @Test func logTimesAreRFC3339InUTCWithMicroseconds() {
        let time = Clock.isoTimestamp()
        #expect(time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"#, options: .regularExpression) != nil, "\(time)")
    }
}
