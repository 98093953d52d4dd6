import Glibc
import Support
import Testing
@testable import HTTPServer

/// A temporary folder with a few files, removed by `remove()`.
struct TemporaryFolder {
    let path: String

    init(files: [String: String]) throws {
        var template = Array("/tmp/http-static-XXXXXX".utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestClient.Failure(description: "mkdtemp failed")
        }
        path = String(cString: created)
        for (name, content) in files {
            let full = path + "/" + name
            if let slash = full.lastIndex(of: "/") { mkdir(String(full[..<slash]), 0o755) }
            let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            _ = content.withCString { write(fd, $0, strlen($0)) }
            close(fd)
        }
    }

    func remove() {
        _ = system("rm -rf '\(path)'")
    }
}

@Suite struct RouterTests {
    @Test func segmentsAreSplitBeforeTheyAreDecoded() {
        var router = Router()
        router.get("/invoices/{region}/{invoice}", .immediate { _ in .text("one") })
        router.get("/files/{path...}", .immediate { _ in .text("file") })
        guard case .found(_, let invoice, _) = router.match(method: "GET", path: "/invoices/UK/INV%2F2011%2F7"),
              case .found(_, let spaced, _) = router.match(method: "GET", path: "/invoices/U%4B/A%20B"),
              case .found(_, let file, _) = router.match(method: "GET", path: "/files/a%20b/c.css")
        else {
            Issue.record("routes not found")
            return
        }
        #expect(invoice == ["region": "UK", "invoice": "INV/2011/7"])
        #expect(spaced == ["region": "UK", "invoice": "A B"])
        #expect(file == ["path": "a b/c.css"])
        guard case .notFound = router.match(method: "GET", path: "/invoices/UK/INV/2011/7") else {
            Issue.record("a literal slash must still separate segments")
            return
        }
    }

    @Test func literalParameterAndCatchAllSegments() {
        var router = Router()
        router.get("/api/uploads", .immediate { _ in .text("list") })
        router.get("/api/uploads/{id}", .immediate { _ in .text("one") })
        router.get("/files/{path...}", .immediate { _ in .text("file") })
        guard case .found(_, let none, let listRoute) = router.match(method: "GET", path: "/api/uploads"), none.isEmpty,
              case .found(_, let one, let oneRoute) = router.match(method: "GET", path: "/api/uploads/abc"),
              case .found(_, let rest, let restRoute) = router.match(method: "GET", path: "/files/a/b/c.css"),
              case .found(_, _, let headRoute) = router.match(method: "HEAD", path: "/api/uploads/x")
        else {
            Issue.record("routes not found")
            return
        }
        #expect(one == ["id": "abc"])
        #expect(rest == ["path": "a/b/c.css"])
        // The pattern a request matched labels its metrics.
        #expect([listRoute, oneRoute, restRoute, headRoute] == ["/api/uploads", "/api/uploads/{id}", "/files/{path...}", "/api/uploads/{id}"])
        guard case .notFound = router.match(method: "GET", path: "/api/uploads/abc/extra") else {
            Issue.record("a longer path matched")
            return
        }
    }

    @Test func headFallsBackToGetAndWrongMethodListsAllowed() {
        var router = Router()
        router.get("/healthz", .immediate { _ in .text("ok") })
        router.post("/healthz", .blocking { _ in .text("posted") })
        guard case .found = router.match(method: "HEAD", path: "/healthz") else {
            Issue.record("HEAD did not fall back to GET")
            return
        }
        guard case .methodNotAllowed(let allowed) = router.match(method: "PUT", path: "/healthz") else {
            Issue.record("PUT was not refused")
            return
        }
        #expect(allowed == ["GET", "HEAD", "POST"])
    }

    @Test func routerIsFrozenWhenCopied() {
        var router = Router()
        router.get("/a", .immediate { _ in .text("a") })
        let frozen = router
        router.get("/b", .immediate { _ in .text("b") })
        guard case .notFound = frozen.match(method: "GET", path: "/b") else {
            Issue.record("a copy saw a route added later")
            return
        }
    }

    @Test func errorJSONIsEscaped() {
        let error = HTTPError(status: 400, code: "bad", message: "quote \" backslash \\ newline \n tab \t bell \u{07}")
        #expect(String(decoding: error.response.body, as: UTF8.self)
            == #"{"error":"bad","message":"quote \" backslash \\ newline \n tab \t bell \u0007"}"#)
        #expect(error.response.headers["Content-Type"] == "application/json")
    }
}

@Suite struct StaticFilesTests {
    static let script = String(repeating: "console.log('static files are preloaded');\n", count: 60)

    func folder() throws -> TemporaryFolder {
        try TemporaryFolder(files: ["index.html": "<h1>home</h1>", "app.js": Self.script, "css/site.css": "body{}"])
    }

    @Test func pathTraversalIsRefused() throws {
        for attempt in ["../etc/passwd", "a/../../etc/passwd", "./index.html", "..", "a/..", "x\u{0}y", "..\\secret",
                        "%2e%2e/etc/passwd"] {
            #expect(throws: HTTPError.self, "\(attempt)") { _ = try StaticFiles.resolve(attempt) }
        }
        #expect(try StaticFiles.resolve("/") == "index.html")
        #expect(try StaticFiles.resolve("/css/site.css") == "css/site.css")
        #expect(try StaticFiles.resolve("//etc/passwd") == "etc/passwd")
    }

    @Test func pathTraversalOverTheWireIncludingEncoded() throws {
        let files = try folder()
        defer { files.remove() }
        try withServer(staticRoot: files.path) { port in
            for target in ["/static/../static/app.js", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/%2E%2E/x",
                           "/static/..%2fapp.js", "/static/a%00b"] {
                let response = try request(port, "GET \(target) HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(response.status == 400, "\(target)")
            }
            let absolute = try request(port, "GET /static//etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(absolute.status == 404)
        }
    }

    @Test func etagGives304AndGzipVariantDecodes() throws {
        let files = try folder()
        defer { files.remove() }
        try withServer(staticRoot: files.path) { port in
            let first = try request(port, "GET /static/app.js HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(first.status == 200)
            #expect(first.text == Self.script)
            #expect(first.headers["Content-Type"] == "text/javascript; charset=utf-8")
            #expect(first.headers["Cache-Control"] != nil)
            let etag = try #require(first.headers["ETag"])
            let again = try request(port, "GET /static/app.js HTTP/1.1\r\nHost: t\r\nIf-None-Match: \(etag)\r\n\r\n")
            #expect(again.status == 304 && again.body.isEmpty && again.headers["ETag"] == etag)
            let other = try request(port, "GET /static/app.js HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"nope\"\r\n\r\n")
            #expect(other.status == 200)
            let gzipped = try request(port, "GET /static/app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
            #expect(gzipped.headers["Content-Encoding"] == "gzip")
            #expect(Gzip.decompress(gzipped.body) == Array(Self.script.utf8))
            let index = try request(port, "GET /static/ HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(index.text == "<h1>home</h1>" && index.headers["Content-Type"] == "text/html; charset=utf-8")
            let nested = try request(port, "GET /static/css/site.css HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(nested.text == "body{}" && nested.headers["Content-Type"] == "text/css; charset=utf-8")
        }
    }
}
