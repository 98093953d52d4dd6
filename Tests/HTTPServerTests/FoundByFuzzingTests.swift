import Testing
@testable import HTTPServer

/// Inputs the harnesses under Fuzz/ found, kept so that the fixes stay.
@Suite struct FoundByFuzzingTests {
    /// A query that starts with a combining mark (U+06E4): "?" and the mark are one Character,
    /// so a Character search missed the "?" and the query stayed in the path.
    @Test func queryStartingWithACombiningMarkIsStillAQuery() {
        let head = HTTPRequestHead(method: "GET", target: "/?\u{06E4}")
        #expect(head.query == "\u{06E4}")
        #expect(head.path == "/")
        #expect(head.rawPath == "/")

        let parsed = HTTPRequestHead(method: "GET", target: "/api/uploads?\u{0301}x=1")
        #expect(parsed.rawPath == "/api/uploads")
        #expect(parsed.path == "/api/uploads")
        #expect(parsed.query == "\u{0301}x=1")
    }

    /// The same through the parser: the router matches on rawPath.
    @Test func parsedRequestWithACombiningMarkAfterTheQuestionMarkKeepsItsPath() {
        let bytes = Array("GET /healthz?".utf8) + [0xDB, 0xA4] + Array(" HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        guard case .head(let head)? = parse([bytes]).events.first else {
            Issue.record("no head")
            return
        }
        #expect(head.path == "/healthz")
        #expect(head.rawPath == "/healthz")
        #expect(head.query == "\u{06E4}")
    }
}

/// The multipart harness: a form field over its limit fails the same way whether the body
/// comes whole or in small pieces (only how much of the field came out before differs).
@Suite struct MultipartLimitSplitTests {
    private func failure(_ body: [UInt8], piece: Int) -> MultipartError? {
        var parser = MultipartParser(boundary: "abc", limits: MultipartLimits(maxFieldValueBytes: 1024))
        var offset = 0
        while offset < body.count {
            let end = min(body.count, offset + piece)
            parser.append(body[offset..<end])
            offset = end
            do {
                while try parser.next() != nil {}
            } catch {
                return error
            }
        }
        parser.finish()
        do { while try parser.next() != nil {} } catch { return error }
        return nil
    }

    @Test func fieldOverItsLimitFailsTheSameWhateverTheSplit() {
        let body = Array("--abc\r\nContent-Disposition: form-data; name=\"region\"\r\n\r\n".utf8)
            + [UInt8](repeating: 0x0A, count: 2000) + Array("\r\n--abc--\r\n".utf8)
        let whole = failure(body, piece: body.count)
        #expect(whole == .fieldValueTooLong(name: "region", limit: 1024))
        for piece in [1, 7, 64, 1000] {
            #expect(failure(body, piece: piece) == whole, "pieces of \(piece)")
        }
    }
}

/// The form harness: "+" followed by a combining mark (U+06E8) is still a plus, a space in
/// form values and itself in paths.
@Suite struct PlusBeforeACombiningMarkTests {
    @Test func plusIsDecodedByByte() {
        #expect(PercentDecoding.decodeForm("+\u{06E8}"[...]) == " \u{06E8}")
        #expect(PercentDecoding.decodePath(Array("+\u{06E8}".utf8)) == "+\u{06E8}")
        #expect(FormURLEncoded.parse(Array("a=+\u{06E8}".utf8))?.first?.value == " \u{06E8}")
    }
}
