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

    @Test func jsonAccessLinesAreValidJSONWhateverThePathAndAgentHold() throws {
        var log = AccessLog(enabled: true, format: .json)
        var head = HTTPRequestHead(method: "GET", target: "/x")
        head.headers.add("User-Agent", "agent \"quoted\" \\ tab\t é ✓")
        let request = ActiveRequest(id: 1, head: head, peer: 0xC0A8_0105, startedAt: 0, requestID: "r-1", traceID: nil)
        let nasty = "/files/a\"b\\c\nd\u{1}é?q=1"
        log.record(method: "GET", path: nasty, status: 503, bytes: 0, nanoseconds: 999, request: request)
        log.record(method: "HEAD", path: "/healthz", status: 200, bytes: 15, nanoseconds: 1_000_000_000, request: nil)
        let lines = log.pending.split(separator: UInt8(ascii: "\n"))
        #expect(lines.count == 2 && log.pending.last == UInt8(ascii: "\n"))
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0])) as? [String: Any])
        #expect(first["severity"] as? String == "ERROR")
        #expect(first["message"] as? String == "GET \(nasty) 503")
        let time = try #require(first["time"] as? String)
        #expect(time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"#, options: .regularExpression) != nil, "\(time)")
        let http = try #require(first["httpRequest"] as? [String: Any])
        #expect(http["requestUrl"] as? String == nasty && http["requestMethod"] as? String == "GET")
        #expect(http["latency"] as? String == "0.000001s" && http["responseSize"] as? String == "0")
        #expect(http["remoteIp"] as? String == "192.168.1.5" && http["userAgent"] as? String == "agent \"quoted\" \\ tab\t é ✓")
        #expect(first["requestId"] as? String == "r-1")
        let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1])) as? [String: Any])
        #expect(second["severity"] as? String == "INFO" && second["requestId"] == nil)
        let secondHTTP = try #require(second["httpRequest"] as? [String: Any])
        #expect(secondHTTP["latency"] as? String == "1.000000s" && secondHTTP["status"] as? Int == 200)
        #expect(secondHTTP["remoteIp"] == nil)
    }
}
