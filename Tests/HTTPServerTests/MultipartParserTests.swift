import HTTPServer
import Testing

/// One part as the parser reported it.
struct ParsedMultipartPart: Equatable {
    var name: String?
    var filename: String?
    var contentType: String?
    var body: [UInt8]
}

/// Feeds `chunks` into a parser, draining events after each, and returns the parts.
/// Also checks that events come in a legal order and that `.end` comes exactly once.
func parseMultipartParts(
    _ chunks: [ArraySlice<UInt8>], boundary: String, limits: MultipartLimits = .init()
) throws(MultipartError) -> [ParsedMultipartPart] {
    var parser = MultipartParser(boundary: boundary, limits: limits)
    var parts: [ParsedMultipartPart] = []
    var inPart = false
    var ended = false
    func drain() throws(MultipartError) {
        while let event = try parser.next() {
            #expect(!ended, "an event after .end")
            switch event {
            case .partBegin(let head):
                #expect(!inPart, "a part began inside another")
                inPart = true
                parts.append(ParsedMultipartPart(name: head.name, filename: head.filename, contentType: head.contentType, body: []))
            case .body(let bytes):
                #expect(inPart, "body bytes outside a part")
                #expect(!bytes.isEmpty, "an empty body event")
                parts[parts.count - 1].body.append(contentsOf: bytes)
            case .partEnd:
                #expect(inPart, "a part ended that never began")
                inPart = false
            case .end:
                #expect(!inPart, "the body ended inside a part")
                ended = true
            }
        }
    }
    for chunk in chunks {
        parser.append(chunk)
        try drain()
    }
    parser.finish()
    try drain()
    #expect(ended, "no .end event")
    return parts
}

/// Where `pattern` first occurs in `bytes`.
func multipartFirstIndex(of pattern: [UInt8], in bytes: [UInt8]) -> Int? {
    guard pattern.count <= bytes.count else { return nil }
    return (0...(bytes.count - pattern.count)).first { bytes[$0..<$0 + pattern.count].elementsEqual(pattern) }
}

let multipartTestBoundary = "----FormBoundary7MA4YWxkTrZu0gW"

/// Bytes 0...255 three times: every byte value, CRs and LFs included.
let multipartBinaryFile: [UInt8] = (0..<768).map { UInt8($0 % 256) }
/// CSV text with line ends and bytes that look like the start of a delimiter.
let multipartCSVFile: [UInt8] = Array(
    "InvoiceNo,StockCode\r\n536365,85123A\r\n--\r\n\r\n--\(multipartTestBoundary.dropLast())X\r\n\n--\(multipartTestBoundary.prefix(8))\r\r\n".utf8)

/// A body with a preamble, two files, a text field and an epilogue.
func multipartSampleBody(lineEnd: String = "\r\n") -> [UInt8] {
    var body: [UInt8] = []
    func add(_ text: String) { body.append(contentsOf: Array(text.utf8)) }
    add("This preamble is ignored.\(lineEnd)")
    add("--\(multipartTestBoundary)\(lineEnd)")
    add("Content-Disposition: form-data; name=\"file\"; filename=\"sales.csv\"\(lineEnd)")
    add("Content-Type: text/csv\(lineEnd)\(lineEnd)")
    body.append(contentsOf: multipartCSVFile)
    add("\(lineEnd)--\(multipartTestBoundary)\(lineEnd)")
    add("Content-Disposition: form-data; name=\"region\"\(lineEnd)\(lineEnd)")
    add("UK")
    add("\(lineEnd)--\(multipartTestBoundary)\(lineEnd)")
    add("Content-Disposition: form-data; name=\"file\"; filename=\"blob.bin\"\(lineEnd)")
    add("Content-Type: application/octet-stream\(lineEnd)\(lineEnd)")
    body.append(contentsOf: multipartBinaryFile)
    add("\(lineEnd)--\(multipartTestBoundary)--\(lineEnd)")
    add("This epilogue is ignored too.\(lineEnd)")
    return body
}

let multipartExpectedParts = [
    ParsedMultipartPart(name: "file", filename: "sales.csv", contentType: "text/csv", body: multipartCSVFile),
    ParsedMultipartPart(name: "region", filename: nil, contentType: nil, body: Array("UK".utf8)),
    ParsedMultipartPart(name: "file", filename: "blob.bin", contentType: "application/octet-stream", body: multipartBinaryFile),
]

@Suite struct MultipartParserTests {
    @Test func wholeBodyGivesTwoFilesAndAField() throws {
        let body = multipartSampleBody()
        #expect(try parseMultipartParts([body[...]], boundary: multipartTestBoundary) == multipartExpectedParts)
    }

    @Test func splittingAtEveryOffsetGivesIdenticalParts() throws {
        let body = multipartSampleBody()
        for split in 0...body.count {
            let parts = try parseMultipartParts([body[..<split], body[split...]], boundary: multipartTestBoundary)
            #expect(parts == multipartExpectedParts, "split at \(split)")
        }
    }

    @Test func splittingIntoThreeAtEveryOffsetPairNearBoundariesGivesIdenticalParts() throws {
        let body = multipartSampleBody()
        // Every pair of cuts in a window around the first delimiter after the CSV file.
        let delimiterStart = try #require(multipartFirstIndex(of: multipartCSVFile, in: body)) + multipartCSVFile.count
        let window = max(0, delimiterStart - 8)...min(body.count, delimiterStart + multipartTestBoundary.count + 12)
        for first in window {
            for second in first...window.upperBound {
                let parts = try parseMultipartParts([body[..<first], body[first..<second], body[second...]], boundary: multipartTestBoundary)
                #expect(parts == multipartExpectedParts, "splits at \(first), \(second)")
            }
        }
    }

    @Test func byteByByteFeedingGivesIdenticalParts() throws {
        let body = multipartSampleBody()
        let chunks = body.indices.map { body[$0..<$0 + 1] }
        #expect(try parseMultipartParts(chunks, boundary: multipartTestBoundary) == multipartExpectedParts)
    }

    @Test func lineFeedOnlyBodyIsAccepted() throws {
        let body = multipartSampleBody(lineEnd: "\n")
        #expect(try parseMultipartParts([body[...]], boundary: multipartTestBoundary) == multipartExpectedParts)
        for split in stride(from: 0, through: body.count, by: 7) {
            #expect(try parseMultipartParts([body[..<split], body[split...]], boundary: multipartTestBoundary) == multipartExpectedParts)
        }
        let chunks = body.indices.map { body[$0..<$0 + 1] }
        #expect(try parseMultipartParts(chunks, boundary: multipartTestBoundary) == multipartExpectedParts)
    }

    @Test func bodyStartingWithoutPreambleAndPaddingAfterBoundaries() throws {
        let text = "--b\t \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--b  \r\n"
            + "Content-Disposition: form-data; name=\"b\"\r\n\r\n\r\n--b-- \r\n"
        let parts = try parseMultipartParts([Array(text.utf8)[...]], boundary: "b")
        #expect(parts == [
            ParsedMultipartPart(name: "a", filename: nil, contentType: nil, body: [UInt8(ascii: "x")]),
            ParsedMultipartPart(name: "b", filename: nil, contentType: nil, body: []),
        ])
    }

    @Test func crBeforeTheDelimiterLineEndStaysInTheContent() throws {
        let text = "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\nab\r\r\n--b--"
        let bytes = Array(text.utf8)
        for split in 0...bytes.count {
            let parts = try parseMultipartParts([bytes[..<split], bytes[split...]], boundary: "b")
            #expect(parts.map(\.body) == [Array("ab\r".utf8)], "split at \(split)")
        }
    }

    @Test func largePartIsStreamedWithBoundedMemory() throws {
        var parser = MultipartParser(boundary: multipartTestBoundary)
        parser.append(Array("--\(multipartTestBoundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n\r\n".utf8))
        let line = Array("536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom\r\n".utf8)
        var chunk: [UInt8] = []
        while chunk.count < 65536 { chunk.append(contentsOf: line) }
        let chunkCount = 10 * 1_048_576 / chunk.count + 1
        var received = 0
        var largestCapacity = 0
        var sawEnd = false
        var checksum: UInt64 = 0
        var expectedChecksum: UInt64 = 0
        for _ in 0..<chunkCount {
            parser.append(chunk)
            for byte in chunk { expectedChecksum = expectedChecksum &* 31 &+ UInt64(byte) }
            largestCapacity = max(largestCapacity, parser.bufferCapacity)
            while let event = try parser.next() {
                if case .body(let bytes) = event {
                    received += bytes.count
                    for byte in bytes { checksum = checksum &* 31 &+ UInt64(byte) }
                }
            }
            #expect(parser.bufferedByteCount <= multipartTestBoundary.count + 4)
        }
        parser.append(Array("\r\n--\(multipartTestBoundary)--\r\n".utf8))
        parser.finish()
        while let event = try parser.next() {
            if case .body(let bytes) = event {
                received += bytes.count
                for byte in bytes { checksum = checksum &* 31 &+ UInt64(byte) }
            }
            if case .end = event { sawEnd = true }
        }
        #expect(sawEnd)
        #expect(received == chunk.count * chunkCount)
        #expect(received > 10_000_000)
        #expect(checksum == expectedChecksum)
        #expect(largestCapacity < 3 * chunk.count, "the parser held \(largestCapacity) bytes")
    }

    @Test func boundaryLikeBytesInsideDataAreContent() throws {
        let boundary = "boundary123"
        let content = "a\r\n--boundary12X\r\n--bound\n--boundary1\r\n-\r\n--"
        let text = "--\(boundary)\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.txt\"\r\n\r\n"
            + content + "\r\n--\(boundary)--\r\n"
        let bytes = Array(text.utf8)
        for split in 0...bytes.count {
            let parts = try parseMultipartParts([bytes[..<split], bytes[split...]], boundary: boundary)
            #expect(parts.map(\.body) == [Array(content.utf8)], "split at \(split)")
        }
    }
}
