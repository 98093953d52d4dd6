import HTTPServer
import Testing

/// The error a parse throws, or nil when it succeeds.
func multipartParseError(_ text: String, boundary: String = "b", limits: MultipartLimits = .init(), chunkSize: Int? = nil) -> MultipartError? {
    let bytes = Array(text.utf8)
    let size = chunkSize ?? max(bytes.count, 1)
    let chunks = stride(from: 0, to: bytes.count, by: size).map { bytes[$0..<min($0 + size, bytes.count)] }
    do {
        _ = try parseMultipartParts(chunks, boundary: boundary, limits: limits)
        return nil
    } catch {
        return error
    }
}

let multipartFilePartHead = "Content-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n"

@Suite struct MultipartErrorTests {
    @Test func bodyWithoutClosingBoundaryIsTruncated() {
        let complete = "--b\r\n\(multipartFilePartHead)data\r\n--b--\r\n"
        #expect(multipartParseError(complete) == nil)
        // Cut anywhere before the closing "--": truncated, however the bytes arrive.
        let bytes = Array(complete.utf8)
        let closing = bytes.count - 2
        for cut in 0..<closing {
            let text = String(decoding: bytes[..<cut], as: UTF8.self)
            #expect(multipartParseError(text) == .truncated, "cut at \(cut)")
            #expect(multipartParseError(text, chunkSize: 1) == .truncated, "cut at \(cut), byte by byte")
        }
    }

    @Test func bodyWithNoBoundaryAtAllIsTruncated() {
        #expect(multipartParseError("just some text\r\nwith lines\r\n") == .truncated)
        #expect(multipartParseError("") == .truncated)
    }

    @Test func morePartsThanTheLimitAreRefused() {
        let part = "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n"
        let limits = MultipartLimits(maxParts: 2)
        #expect(multipartParseError(part + part + "--b--", limits: limits) == nil)
        #expect(multipartParseError(part + part + part + "--b--", limits: limits) == .tooManyParts(limit: 2))
    }

    @Test func headersLongerThanTheLimitAreRefused() {
        let limits = MultipartLimits(maxPartHeaderBytes: 100)
        let longValue = String(repeating: "x", count: 200)
        let longLine = "--b\r\nX-Long: \(longValue)\r\n\r\nv\r\n--b--"
        #expect(multipartParseError(longLine, limits: limits) == .partHeadersTooLong(limit: 100))
        // Without a line end in sight, the limit still holds (no unbounded buffering).
        #expect(multipartParseError(longLine, limits: limits, chunkSize: 1) == .partHeadersTooLong(limit: 100))
        let manyLines = "--b\r\n" + String(repeating: "X-A: 1\r\n", count: 20) + "\r\nv\r\n--b--"
        #expect(multipartParseError(manyLines, limits: limits) == .partHeadersTooLong(limit: 100))
        let fitting = "--b\r\nX-A: \(String(repeating: "y", count: 80))\r\n\r\nv\r\n--b--"
        #expect(multipartParseError(fitting, limits: limits) == nil)
    }

    @Test func fieldLongerThanTheLimitIsRefusedButFilesAreNot() {
        let limits = MultipartLimits(maxFieldValueBytes: 10)
        let value = String(repeating: "z", count: 11)
        #expect(multipartParseError("--b\r\nContent-Disposition: form-data; name=\"region\"\r\n\r\n\(value)\r\n--b--", limits: limits)
            == .fieldValueTooLong(name: "region", limit: 10))
        #expect(multipartParseError("--b\r\n\(multipartFilePartHead)\(value)\r\n--b--", limits: limits) == nil)
    }

    @Test func headerLineWithoutColonIsMalformed() {
        let error = multipartParseError("--b\r\nnot a header\r\n\r\nv\r\n--b--")
        #expect(error?.code == "malformed_part_headers")
    }

    @Test func garbageAfterBoundaryIsMalformed() {
        #expect(multipartParseError("--b\r\n\(multipartFilePartHead)v\r\n--bogus\r\n") == .malformedBoundaryLine)
    }

    @Test func errorsHaveStableCodesAndMessages() {
        let errors: [MultipartError] = [
            .missingBoundary, .malformedPartHeaders("x"), .malformedBoundaryLine, .partHeadersTooLong(limit: 1),
            .tooManyParts(limit: 1), .fieldValueTooLong(name: "n", limit: 1), .truncated,
        ]
        #expect(Set(errors.map(\.code)).count == errors.count)
        #expect(errors.allSatisfy { !$0.message.isEmpty })
        #expect(MultipartError.truncated.code == "truncated")
    }

    @Test func parserKeepsThrowingAfterAnError() {
        var parser = MultipartParser(boundary: "b")
        parser.append(Array("--b\r\nbroken\r\n\r\n".utf8))
        #expect(throws: MultipartError.self) { try parser.next() }
        #expect(throws: MultipartError.self) { try parser.next() }
    }
}

@Suite struct MultipartHeadTests {
    func head(_ disposition: String) -> MultipartPartHead {
        MultipartPartHead(headers: [(name: "content-disposition", value: disposition)])
    }

    @Test func extendedFilenameIsPreferredAndDecoded() {
        let part = head("form-data; name=\"file\"; filename=\"fallback.csv\"; filename*=UTF-8''%C3%A9t%C3%A9%20sales.csv")
        #expect(part.name == "file")
        #expect(part.filename == "été sales.csv")
        #expect(head("form-data; filename*=iso-8859-1'en'%A3.csv").filename == "£.csv")
        // An undecodable extended value falls back to the plain one.
        #expect(head("form-data; filename=\"plain.csv\"; filename*=UTF-8''%ZZ").filename == "plain.csv")
    }

    @Test func quotedValuesWithEscapesAndSemicolons() {
        let part = head("form-data; name=\"a;b\"; filename=\"say \\\"hi\\\".csv\"")
        #expect(part.name == "a;b")
        #expect(part.filename == "say \"hi\".csv")
        #expect(head("form-data; NAME=bare ; FileName=x.csv").name == "bare")
        #expect(head("form-data; NAME=bare ; FileName=x.csv").filename == "x.csv")
        #expect(head("form-data; name=\"region\"").isFile == false)
    }

    @Test func utf8FilenameInQuotesIsKept() {
        #expect(head("form-data; name=\"file\"; filename=\"Übersicht.csv\"").filename == "Übersicht.csv")
    }

    @Test func headerLookupIgnoresCase() {
        let part = MultipartPartHead(headers: [(name: "CONTENT-TYPE", value: "text/csv")])
        #expect(part.contentType == "text/csv")
        #expect(part.header("content-type") == "text/csv")
    }

    @Test func boundaryFromContentType() {
        #expect(MultipartParser.boundary(fromContentType: "multipart/form-data; boundary=----WebKitFormBoundaryX") == "----WebKitFormBoundaryX")
        #expect(MultipartParser.boundary(fromContentType: "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"ab;c d\"") == "ab;c d")
        #expect(MultipartParser.boundary(fromContentType: "multipart/form-data;boundary=\"q\\\"x\"") == "q\"x")
        #expect(MultipartParser.boundary(fromContentType: "multipart/form-data") == nil)
        #expect(MultipartParser.boundary(fromContentType: "multipart/form-data; boundary=") == nil)
        #expect(MultipartParser.boundary(fromContentType: "multipart/form-data; boundary=\"\"") == nil)
        #expect(MultipartParser.boundary(fromContentType: "text/plain; boundary=abc") == nil)
        #expect(MultipartParser.boundary(fromContentType: "multipart/form-data; boundary=" + String(repeating: "a", count: 70)) != nil)
        #expect(MultipartParser.boundary(fromContentType: "multipart/form-data; boundary=" + String(repeating: "a", count: 71)) == nil)
    }
}
