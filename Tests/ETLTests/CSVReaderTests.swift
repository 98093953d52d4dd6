import Testing
@testable import ETL

/// A record copied out of the reader: line and fields.
struct ParsedRecord: Equatable, CustomStringConvertible {
    var line: Int64
    var fields: [String]?  // nil: too long
    var description: String { "\(line): \(fields.map { "\($0)" } ?? "too long")" }
}

/// Parses `bytes` fed in pieces that end at each of `cuts`.
func parse(_ bytes: [UInt8], cuts: [Int] = [], maxRecordBytes: Int = 1 << 20) -> [ParsedRecord] {
    var reader = CSVReader(maxRecordBytes: maxRecordBytes)
    var records: [ParsedRecord] = []
    let collect = { (event: CSVEvent) in
        switch event {
        case .record(let record): records.append(ParsedRecord(line: record.line, fields: record.strings))
        case .recordTooLong(let line): records.append(ParsedRecord(line: line, fields: nil))
        }
    }
    var start = 0
    for cut in cuts + [bytes.count] where cut >= start {
        bytes[start..<cut].withUnsafeBytes { reader.feed($0, collect) }
        start = cut
    }
    reader.finish(collect)
    return records
}

@Suite struct CSVReaderTests {
    static let tricky: [UInt8] = [0xEF, 0xBB, 0xBF] + Array((
        "a,b,c\r\n"
        + "\"x, y\",\"say \"\"hi\"\"\",3\r\n"
        + "\"line1\r\nline2\",\"cr\ronly\",\"lf\nonly\"\n"
        + "\r\n"
        + "\n"
        + "plain,,\"\"\r\n"
        + ",,\n"
        + "   \n"
        + "last,\"q\"\"\",no end"
    ).utf8)

    static let expected: [ParsedRecord] = [
        ParsedRecord(line: 1, fields: ["a", "b", "c"]),
        ParsedRecord(line: 2, fields: ["x, y", "say \"hi\"", "3"]),
        ParsedRecord(line: 3, fields: ["line1\r\nline2", "cr\ronly", "lf\nonly"]),
        ParsedRecord(line: 9, fields: ["plain", "", ""]),
        ParsedRecord(line: 12, fields: ["last", "q\"", "no end"]),
    ]

    @Test func recordsAreTheSameWhereverTheInputIsSplit() {
        #expect(parse(Self.tricky) == Self.expected)
        for cut in 0...Self.tricky.count {
            let records = parse(Self.tricky, cuts: [cut])
            #expect(records == Self.expected, "split at \(cut)")
        }
    }

    @Test func recordsAreTheSameWhenFedOneByteAtATime() {
        #expect(parse(Self.tricky, cuts: Array(0...Self.tricky.count)) == Self.expected)
    }

    @Test func quotedFieldMayEndTheInputWithoutLineEnd() {
        #expect(parse(Array("a,\"b\"".utf8)) == [ParsedRecord(line: 1, fields: ["a", "b"])])
        #expect(parse(Array("a,b\r".utf8)) == [ParsedRecord(line: 1, fields: ["a", "b"])])
    }

    @Test func byteOrderMarkIsDroppedOnlyAtTheStart() {
        let bom = "\u{FEFF}"
        #expect(parse(Array("\(bom)a\n\(bom)b\n".utf8)).map(\.fields) == [["a"], ["\(bom)b"]])
        // A partial BOM followed by other bytes is data, even when split.
        let partial: [UInt8] = [0xEF, 0xBB, 0x41, 0x0A]
        for cut in 0...partial.count {
            var reader = CSVReader()
            var fields: [[UInt8]] = []
            let collect = { (event: CSVEvent) in
                if case .record(let record) = event { fields.append(Array(record[0])) }
            }
            partial[..<cut].withUnsafeBytes { reader.feed($0, collect) }
            partial[cut...].withUnsafeBytes { reader.feed($0, collect) }
            reader.finish(collect)
            #expect(fields == [[0xEF, 0xBB, 0x41]], "split at \(cut)")
        }
    }

    @Test func onlyBlankLinesGiveNoRecords() {
        #expect(parse(Array("\r\n\n  \n,,,\n".utf8)).isEmpty)
        #expect(parse([0xEF, 0xBB, 0xBF]).isEmpty)
        #expect(parse([]).isEmpty)
    }

    @Test func quotedEmptyFieldIsARecordNotABlankLine() {
        #expect(parse(Array("\"\"\n".utf8)) == [ParsedRecord(line: 1, fields: [""])])
    }

    @Test func lenientQuotesFollowPythonCSV() {
        #expect(parse(Array("ab\"c,\"de\"f\n".utf8)).map(\.fields) == [["ab\"c", "def"]])
    }

    @Test func tooLongRecordIsSkippedAndTheNextOneIsRead() {
        let long = String(repeating: "x", count: 500)
        let input = Array("a,b\n\(long),y\n\"\(long)\n\(long)\",z\nc,d\n".utf8)
        let expected = [
            ParsedRecord(line: 1, fields: ["a", "b"]),
            ParsedRecord(line: 2, fields: nil),
            ParsedRecord(line: 3, fields: nil),
            ParsedRecord(line: 5, fields: ["c", "d"]),
        ]
        for cut in stride(from: 0, through: input.count, by: 7) {
            #expect(parse(input, cuts: [cut], maxRecordBytes: 100) == expected, "split at \(cut)")
        }
    }

    @Test func manyEmptyFieldsCountTowardTheLimit() {
        let commas = String(repeating: ",", count: 300)
        #expect(parse(Array("x\(commas)\nok\n".utf8), maxRecordBytes: 100) == [
            ParsedRecord(line: 1, fields: nil), ParsedRecord(line: 2, fields: ["ok"]),
        ])
    }

    @Test func fiveMegabyteLineDoesNotGrowTheBuffer() {
        var reader = CSVReader(maxRecordBytes: 1 << 20)
        var events: [ParsedRecord] = []
        let collect = { (event: CSVEvent) in
            switch event {
            case .record(let record): events.append(ParsedRecord(line: record.line, fields: record.strings))
            case .recordTooLong(let line): events.append(ParsedRecord(line: line, fields: nil))
            }
        }
        let chunk = [UInt8](repeating: UInt8(ascii: "z"), count: 64 * 1024)
        Array("h\n".utf8).withUnsafeBytes { reader.feed($0, collect) }
        for _ in 0..<80 { chunk.withUnsafeBytes { reader.feed($0, collect) } }
        Array("\nend\n".utf8).withUnsafeBytes { reader.feed($0, collect) }
        reader.finish(collect)
        #expect(events == [
            ParsedRecord(line: 1, fields: ["h"]), ParsedRecord(line: 2, fields: nil),
            ParsedRecord(line: 3, fields: ["end"]),
        ])
        #expect(reader.storageBytes <= (1 << 20) + 4096)
    }
}
