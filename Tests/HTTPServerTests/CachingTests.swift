import Glibc
import Support
import Testing
@testable import HTTPServer

/// Validators and caching headers: one ETag per representation, `Vary: Accept-Encoding` when there
/// are two, If-None-Match compared with the tag of the representation the request selects.
@Suite struct CachingTests {
    /// Large and repetitive enough to be kept gzipped.
    static let script = String(repeating: "console.log('cached and revalidated');\n", count: 80)
    /// Under the gzip threshold: one representation only.
    static let icon = #"<svg xmlns="http://www.w3.org/2000/svg"/>"#

    func folder() throws -> TemporaryFolder {
        try TemporaryFolder(files: ["app.js": Self.script, "icon.svg": Self.icon])
    }

    func get(_ port: Int, _ path: String, _ headers: String = "", method: String = "GET") throws -> TestClient.Response {
        try request(port, "\(method) \(path) HTTP/1.1\r\nHost: t\r\n\(headers)\r\n", head: method == "HEAD")
    }

    @Test func gzipAndIdentityHaveTheirOwnETagsAndBothVary() throws {
        let files = try folder()
        defer { files.remove() }
        try withServer(staticRoot: files.path) { port in
            let plain = try get(port, "/static/app.js")
            let packed = try get(port, "/static/app.js", "Accept-Encoding: gzip, deflate\r\n")
            #expect(plain.status == 200 && packed.status == 200)
            #expect(plain.headers["Content-Encoding"] == nil && packed.headers["Content-Encoding"] == "gzip")
            #expect(Gzip.decompress(packed.body) == plain.body && plain.text == Self.script)
            let plainTag = try #require(plain.headers["ETag"]), packedTag = try #require(packed.headers["ETag"])
            #expect(plainTag != packedTag)
            #expect(!plainTag.hasPrefix("W/") && !packedTag.hasPrefix("W/"))
            #expect(packedTag == EntityTag.gzipVariant(of: plainTag))
            for response in [plain, packed] {
                #expect(response.headers.values(for: "Vary") == ["Accept-Encoding"])
                #expect(response.headers["Cache-Control"] == "no-cache")
                #expect(response.headers["Content-Type"] == "text/javascript; charset=utf-8")
            }
        }
    }

    @Test func eachRepresentationRevalidatesWithItsOwnTag() throws {
        let files = try folder()
        defer { files.remove() }
        try withServer(staticRoot: files.path) { port in
            let plainTag = try #require(try get(port, "/static/app.js").headers["ETag"])
            let packedTag = try #require(try get(port, "/static/app.js", "Accept-Encoding: gzip\r\n").headers["ETag"])

            let plain304 = try get(port, "/static/app.js", "If-None-Match: \(plainTag)\r\n")
            #expect(plain304.status == 304 && plain304.body.isEmpty)
            #expect(plain304.headers["ETag"] == plainTag && plain304.headers["Vary"] == "Accept-Encoding")
            #expect(plain304.headers["Cache-Control"] == "no-cache")
            #expect(plain304.headers["Content-Encoding"] == nil && plain304.headers["Content-Length"] == nil)

            let packed304 = try get(port, "/static/app.js", "Accept-Encoding: gzip\r\nIf-None-Match: \"other\", W/\(packedTag)\r\n")
            #expect(packed304.status == 304 && packed304.body.isEmpty)
            #expect(packed304.headers["ETag"] == packedTag && packed304.headers["Vary"] == "Accept-Encoding")

            // The other representation's tag does not validate this one: the full answer comes back.
            let crossedToPlain = try get(port, "/static/app.js", "If-None-Match: \(packedTag)\r\n")
            #expect(crossedToPlain.status == 200 && crossedToPlain.text == Self.script)
            #expect(crossedToPlain.headers["ETag"] == plainTag)
            let crossedToPacked = try get(port, "/static/app.js", "Accept-Encoding: gzip\r\nIf-None-Match: \(plainTag)\r\n")
            #expect(crossedToPacked.status == 200 && crossedToPacked.headers["Content-Encoding"] == "gzip")
            #expect(crossedToPacked.headers["ETag"] == packedTag)

            // gzip refused with q=0 selects the identity representation.
            let refused = try get(port, "/static/app.js", "Accept-Encoding: gzip;q=0\r\nIf-None-Match: \(plainTag)\r\n")
            #expect(refused.status == 304 && refused.headers["ETag"] == plainTag)
            let any = try get(port, "/static/app.js", "If-None-Match: *\r\n")
            #expect(any.status == 304)
            let head = try get(port, "/static/app.js", "Accept-Encoding: gzip\r\nIf-None-Match: \(packedTag)\r\n", method: "HEAD")
            #expect(head.status == 304 && head.headers["ETag"] == packedTag)
        }
    }

    @Test func aFileWithoutGzipVariantHasOneTagAndNoVary() throws {
        let files = try folder()
        defer { files.remove() }
        try withServer(staticRoot: files.path) { port in
            let plain = try get(port, "/static/icon.svg")
            let asked = try get(port, "/static/icon.svg", "Accept-Encoding: gzip\r\n")
            #expect(plain.status == 200 && asked.status == 200 && asked.headers["Content-Encoding"] == nil)
            #expect(plain.text == Self.icon && asked.text == Self.icon)
            let tag = try #require(plain.headers["ETag"])
            #expect(asked.headers["ETag"] == tag && tag == EntityTag.strong(for: Array(Self.icon.utf8)))
            #expect(plain.headers["Vary"] == nil && asked.headers["Vary"] == nil)
            #expect(plain.headers["Cache-Control"] == "no-cache" && plain.headers["Content-Type"] == "image/svg+xml")
            let again = try get(port, "/static/icon.svg", "Accept-Encoding: gzip\r\nIf-None-Match: \(tag)\r\n")
            #expect(again.status == 304 && again.body.isEmpty && again.headers["ETag"] == tag && again.headers["Vary"] == nil)
            let changed = try get(port, "/static/icon.svg", "If-None-Match: \(EntityTag.gzipVariant(of: tag))\r\n")
            #expect(changed.status == 200 && changed.text == Self.icon)
        }
    }

    @Test func answersWithAValidatorGetAGzipTagAndA304() throws {
        let json = "{\"rows\":[" + Array(repeating: "{\"region\":\"IN\",\"revenue\":\"12.50\"}", count: 60).joined(separator: ",") + "]}"
        var router = Router()
        router.get("/answer", .immediate { _ in HTTPResponse.json(json).withValidator(cacheControl: "private, no-cache") })
        router.get("/blocking", .blocking { _ in HTTPResponse.json(json).withValidator(cacheControl: "private, no-cache") })
        var configuration = HTTPServerConfiguration(port: 0, eventLoopThreads: 1, workerThreads: 1, accessLog: false)
        configuration.timeouts = HTTPTimeouts(requestHead: 2000, bodyInactivity: 2000, idleKeepAlive: 5000, write: 2000)
        let server = HTTPServer(configuration: configuration, router: router)
        let port = try server.start()
        defer { server.shutdown(gracePeriodMilliseconds: 1000) }
        for path in ["/answer", "/blocking"] {
            let plain = try get(port, path)
            let packed = try get(port, path, "Accept-Encoding: gzip\r\n")
            let plainTag = try #require(plain.headers["ETag"]), packedTag = try #require(packed.headers["ETag"])
            #expect(plainTag == EntityTag.strong(for: Array(json.utf8)))
            #expect(packed.headers["Content-Encoding"] == "gzip" && packedTag == EntityTag.gzipVariant(of: plainTag))
            #expect(plain.headers["Vary"] == "Accept-Encoding" && packed.headers["Vary"] == "Accept-Encoding")
            #expect(plain.headers["Cache-Control"] == "private, no-cache")

            let plain304 = try get(port, path, "If-None-Match: \(plainTag)\r\n")
            #expect(plain304.status == 304 && plain304.body.isEmpty && plain304.headers["ETag"] == plainTag)
            #expect(plain304.headers["Content-Type"] == nil && plain304.headers["Cache-Control"] == "private, no-cache")
            let packed304 = try get(port, path, "Accept-Encoding: gzip\r\nIf-None-Match: \(packedTag)\r\n")
            #expect(packed304.status == 304 && packed304.headers["ETag"] == packedTag)
            #expect(packed304.headers["Content-Encoding"] == nil && packed304.headers["Vary"] == "Accept-Encoding")
            let crossed = try get(port, path, "Accept-Encoding: gzip\r\nIf-None-Match: \(plainTag)\r\n")
            #expect(crossed.status == 200 && Gzip.decompress(crossed.body) == Array(json.utf8))
        }
    }

    @Test func ifNoneMatchParsing() {
        let tag = "\"abc-10\""
        #expect(EntityTag.ifNoneMatch(tag, matches: tag))
        #expect(EntityTag.ifNoneMatch("\"x\" , W/\"abc-10\"", matches: tag))
        #expect(EntityTag.ifNoneMatch("*", matches: tag))
        #expect(!EntityTag.ifNoneMatch("\"abc-1\"", matches: tag))
        #expect(!EntityTag.ifNoneMatch("\"abc-10-gzip\"", matches: tag))
        #expect(EntityTag.gzipVariant(of: tag) == "\"abc-10-gzip\"")
        #expect(EntityTag.gzipVariant(of: "W/\"abc\"") == "W/\"abc\"")
        #expect(EntityTag.strong(for: Array("a".utf8)) != EntityTag.strong(for: Array("b".utf8)))
    }
}
