import Testing
@testable import HTTPServer

/// What a parser made of some input: heads, body bytes per request, trailers, or the error that stopped it.
struct ParseOutcome: Equatable {
    var events: [HTTPParserEvent] = []
    var error: HTTPError?
}

/// Feeds `chunks` one after the other, collecting events; body slices are merged per request.
func parse(_ chunks: [[UInt8]], limits: HTTPLimits = HTTPLimits()) -> ParseOutcome {
    var parser = HTTPRequestParser(limits: limits)
    var outcome = ParseOutcome()
    var body: [UInt8] = []
    for chunk in chunks {
        parser.append(chunk)
        do {
            while let event = try parser.next() {
                switch event {
                case .body(let bytes): body.append(contentsOf: bytes)
                case .end:
                    if !body.isEmpty { outcome.events.append(.body(body[...])) }
                    body = []
                    outcome.events.append(event)
                case .head: outcome.events.append(event)
                }
            }
        } catch {
            outcome.error = error
            return outcome
        }
    }
    if !body.isEmpty { outcome.events.append(.body(body[...])) }
    return outcome
}

func parse(_ text: String, limits: HTTPLimits = HTTPLimits()) -> ParseOutcome {
    parse([Array(text.utf8)], limits: limits)
}

/// The status a request is refused with, or nil if it parses.
func rejection(_ text: String, limits: HTTPLimits = HTTPLimits()) -> Int? {
    parse(text, limits: limits).error?.status
}

@Suite struct RequestParserTests {
    static let pipelined = "POST /upload?x=1 HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\nX-Test: a b\r\n\r\n"
        + "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nChecksum: 42\r\nOther: x\r\n\r\n"
        + "GET /next HTTP/1.1\r\nHost: example\r\nContent-Length: 3\r\n\r\nabc"
        + "HEAD /third HTTP/1.0\r\n\r\n"

    @Test func sameResultWhenSplitAtEveryOffset() throws {
        let bytes = Array(Self.pipelined.utf8)
        let whole = parse([bytes])
        #expect(whole.error == nil)
        #expect(whole.events.count == 8)
        for offset in 0...bytes.count {
            let split = parse([Array(bytes[..<offset]), Array(bytes[offset...])])
            #expect(split == whole, "split at \(offset)")
        }
        let byteByByte = parse(bytes.map { [$0] })
        #expect(byteByByte == whole)
    }

    @Test func chunkedBodyWithTrailersAndPipelinedRequests() throws {
        let outcome = parse(Self.pipelined)
        guard outcome.events.count == 8, case .head(let first) = outcome.events[0],
              case .body(let firstBody) = outcome.events[1], case .end(let trailers) = outcome.events[2],
              case .head(let second) = outcome.events[3], case .body(let secondBody) = outcome.events[4],
              case .head(let third) = outcome.events[6] else {
            Issue.record("unexpected events \(outcome.events)")
            return
        }
        #expect(first.method == "POST" && first.path == "/upload" && first.query == "x=1" && first.isChunked)
        #expect(first.headers["x-test"] == "a b")
        #expect(String(decoding: firstBody, as: UTF8.self) == "helloabcdefghijklmnopqrstuvwxyz")
        #expect(trailers["checksum"] == "42" && trailers.count == 2)
        #expect(second.path == "/next" && second.contentLength == 3 && second.keepAlive)
        #expect(Array(secondBody) == Array("abc".utf8))
        #expect(third.method == "HEAD" && third.version == .http1_0 && !third.keepAlive)
    }

    @Test func http10KeepAliveOnlyWhenAsked() {
        guard case .head(let plain)? = parse("GET / HTTP/1.0\r\n\r\n").events.first,
              case .head(let asked)? = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").events.first,
              case .head(let closing)? = parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").events.first
        else {
            Issue.record("no head")
            return
        }
        #expect(!plain.keepAlive)
        #expect(asked.keepAlive)
        #expect(!closing.keepAlive)
    }

    @Test func percentDecodedPathAndFormDecodedQuery() {
        guard case .head(let head)? = parse("GET /a%20b/c?name=J%C3%BCrgen+M&empty=&x=1 HTTP/1.1\r\nHost: a\r\n\r\n").events.first else {
            Issue.record("no head")
            return
        }
        #expect(head.path == "/a b/c")
        #expect(head.queryValue("name") == "Jürgen M")
        #expect(head.queryValue("empty") == "")
        #expect(head.queryValue("missing") == nil)
    }

    @Test func lineFeedOnlyLinesAreAccepted() {
        #expect(rejection("GET / HTTP/1.1\nHost: a\n\n") == nil)
    }

    @Test func absoluteFormTargetUsesItsPath() {
        guard case .head(let head)? = parse("GET http://example.com/x/y?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n").events.first else {
            Issue.record("no head")
            return
        }
        #expect(head.path == "/x/y" && head.query == "q=1")
    }

    // MARK: Attacks and malformed input

    @Test func requestSmugglingContentLengthWithTransferEncoding() {
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n") == 400)
    }

    @Test func duplicateDifferingContentLength() {
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!") == 400)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!") == 400)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello") == nil)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello") == nil)
    }

    @Test func malformedContentLength() {
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n") == 400)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello") == 400)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n") == 400)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n") == 400)
    }

    @Test func transferEncodingOtherThanChunked() {
        for coding in ["identity", "gzip", "gzip, chunked", "chunked, chunked", "chunked;q=1", "xchunked"] {
            #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(coding)\r\n\r\n0\r\n\r\n") == 400, "\(coding)")
        }
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n") == nil)
    }

    @Test func obsFoldIsRejected() {
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n\ttwo\r\n\r\n") == 400)
    }

    @Test func bareCarriageReturnIsRejected() {
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\rX-Smuggled: 1\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\rHost: a\r\n\r\n") == 400)
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello\r\n0\r\n\r\n") == 400)
    }

    @Test func headerNameWithSpaceBeforeColon() {
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello") == 400)
        #expect(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 5\r\n\r\nhello").error?.code == "space_before_colon")
    }

    @Test func invalidTokenCharactersInMethodAndHeaderName() {
        #expect(rejection("G(ET / HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nX@Y: 1\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{01}b\r\n\r\n") == 400)
    }

    @Test func missingHostInHTTP11() {
        #expect(rejection("GET / HTTP/1.1\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.0\r\n\r\n") == nil)
    }

    @Test func oversizeRequestLineIs414() {
        var limits = HTTPLimits()
        limits.maxRequestLineBytes = 100
        let long = "GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\nHost: a\r\n\r\n"
        #expect(rejection(long, limits: limits) == 414)
        // Also before the line has ended: no need to wait for the rest.
        #expect(rejection("GET /" + String(repeating: "a", count: 200), limits: limits) == 414)
        #expect(rejection("GET /" + String(repeating: "a", count: 80) + " HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits) == nil)
    }

    @Test func tooManyHeadersIs431() {
        var limits = HTTPLimits()
        limits.maxHeaderCount = 10
        let headers = (0..<11).map { "X-\($0): v\r\n" }.joined()
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\n" + headers + "\r\n", limits: limits) == 431)
    }

    @Test func headerBytesOverLimitIs431() {
        var limits = HTTPLimits()
        limits.maxHeaderBytes = 1024
        let big = "X-Big: " + String(repeating: "b", count: 2000) + "\r\n"
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\n" + big + "\r\n", limits: limits) == 431)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\n" + big, limits: limits) == 431)
        let many = (0..<40).map { "X-\($0): \(String(repeating: "v", count: 30))\r\n" }.joined()
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\n" + many + "\r\n", limits: limits) == 431)
    }

    @Test func chunkSizeOverflow() {
        let start = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(rejection(start + "FFFFFFFFFFFFFFFFF\r\nx\r\n0\r\n\r\n") == 400)
        #expect(rejection(start + "8000000000000000\r\nx\r\n0\r\n\r\n") == 400)
        #expect(rejection(start + "7FFFFFFFFFFFFFFF\r\nx\r\n0\r\n\r\n") == nil)
    }

    @Test func invalidChunkSyntax() {
        let start = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(rejection(start + "zz\r\nx\r\n0\r\n\r\n") == 400)
        #expect(rejection(start + "\r\nx\r\n0\r\n\r\n") == 400)
        #expect(rejection(start + "-1\r\nx\r\n0\r\n\r\n") == 400)
        #expect(rejection(start + "3\r\nabcX\r\n0\r\n\r\n") == 400)
        #expect(rejection(start + "3 junk\r\nabc\r\n0\r\n\r\n") == 400)
    }

    @Test func nulInPathIsRejected() {
        #expect(rejection("GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(rejection("GET /a\u{0}b HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(rejection("GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(rejection("GET /a%C3 HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
    }

    @Test func unsupportedVersion() {
        #expect(rejection("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505)
        #expect(rejection("GET / HTTX/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(rejection("GET /  HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
    }

    @Test func parserStaysFailedAfterAnError() {
        var parser = HTTPRequestParser()
        parser.append(Array("GET / HTTP/1.1\r\nBad Header: 1\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect(throws: HTTPError.self) { _ = try parser.next() }
        #expect(throws: HTTPError.self) { _ = try parser.next() }
    }

    @Test func bufferDoesNotGrowAcrossManyPipelinedRequests() throws {
        var parser = HTTPRequestParser()
        let request = Array("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        var heads = 0
        for _ in 0..<10_000 {
            parser.append(request)
            while let event = try parser.next() { if case .head = event { heads += 1 } }
        }
        #expect(heads == 10_000)
        #expect(parser.bufferedByteCount == 0)
    }
}

@Suite struct DirectBodyTests {
    @Test func bodyReceivedOutsideTheParserEndsTheRequest() throws {
        var parser = HTTPRequestParser()
        parser.append(Array("POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n".utf8))
        guard case .head? = try parser.next() else {
            Issue.record("no head")
            return
        }
        #expect(try parser.next() == nil)
        #expect(parser.directBodyBytesExpected == 10)
        parser.skipBody(4)
        #expect(parser.directBodyBytesExpected == 6)
        parser.append(Array("567890GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect(parser.directBodyBytesExpected == nil)
        #expect(try parser.next() == .body(Array("567890".utf8)[...]))
        #expect(try parser.next() == .end(trailers: HTTPHeaders()))
        guard case .head(let next)? = try parser.next() else {
            Issue.record("no pipelined head")
            return
        }
        #expect(next.method == "GET")
    }
}
