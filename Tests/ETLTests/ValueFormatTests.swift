import Testing
@testable import ETL

/// Exact decimals, dates, row keys, UTF-8 validation and the duplicate window.
@Suite struct ValueFormatTests {
    @Test func decimalsParseExactly() {
        #expect(ExactDecimal(parsing: "2.55")?.micros == 2_550_000)
        #expect(ExactDecimal(parsing: " -0.000001 ")?.micros == -1)
        #expect(ExactDecimal(parsing: "+12")?.micros == 12_000_000)
        #expect(ExactDecimal(parsing: ".5")?.micros == 500_000)
        #expect(ExactDecimal(parsing: "5.")?.micros == 5_000_000)
        #expect(ExactDecimal(parsing: "1.250000000")?.micros == 1_250_000)
        for bad in ["", "-", ".", "1.0000001", "1e3", "1,5", "0x10", "9223372036855", "NaN", "1 2"] {
            #expect(ExactDecimal(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func decimalsFormatRoundingHalfAwayFromZero() {
        #expect(decimal("1234.5").formatted(places: 2) == "1234.50")
        #expect(decimal("-3.1").formatted(places: 2) == "-3.10")
        #expect(decimal("0.005").formatted(places: 2) == "0.01")
        #expect(decimal("-0.005").formatted(places: 2) == "-0.01")
        #expect(decimal("-0.004").formatted(places: 2) == "0.00")
        #expect(decimal("2.675").formatted(places: 2) == "2.68")
        #expect(decimal("7.5").formatted(places: 0) == "8")
        #expect(decimal("0.000001").formatted(places: 6) == "0.000001")
        #expect(ExactDecimal(micros: Int64.min + 1).formatted(places: 2) == "-9223372036854.78")
        #expect(decimal("8.50").description == "8.5")
        #expect(decimal("12").description == "12")
        #expect(decimal("-0.000001").description == "-0.000001")
    }

    @Test func datesRenderAndParseAsISO() {
        #expect(LocalDateTime(secondsSinceEpoch: 0).isoDateTime == "1970-01-01T00:00:00")
        #expect(LocalDateTime(secondsSinceEpoch: -1).isoDateTime == "1969-12-31T23:59:59")
        #expect(LocalDateTime.parseISODate("2010-12-01") == 14944)
        #expect(LocalDateTime(secondsSinceEpoch: 14944 * 86_400 + 30_360).isoDate == "2010-12-01")
        #expect(LocalDateTime.parseISODate("2000-02-29") != nil)
        #expect(LocalDateTime.parseISODate("1900-02-29") == nil)
        #expect(LocalDateTime.parseISODate("2010-13-01") == nil)
        #expect(LocalDateTime.parseISODate("2010-1-01") == nil)
        for day in stride(from: Int64(-719_162), through: 2_932_896, by: 997) {
            let text = LocalDateTime.isoDate(dayNumber: day)
            #expect(LocalDateTime.parseISODate(text) == day, "\(text)")
        }
    }

    @Test func rowKeyHexIsHighThenLow() {
        #expect(RowKey(high: 0x0123_4567_89AB_CDEF, low: 0xF).hex == "0123456789abcdef000000000000000f")
    }

    @Test func rowHashSeparatesFieldsAndNeverChanges() {
        func hash(_ parts: [String]) -> UInt64 {
            var hasher = RowHasher()
            for part in parts { Array(part.utf8).withUnsafeBufferPointer { hasher.combine($0) } }
            return hasher.finalize()
        }
        #expect(hash(["ab", "c"]) != hash(["a", "bc"]))
        #expect(hash(["", "x"]) != hash(["x", ""]))
        // A pinned value: row keys must not change between runs, builds or platforms, or a
        // reload would no longer be recognized as the same rows.
        #expect(hash(["UK", "536365"]) == 0x232d_fb7e_7f95_e088)
    }

    @Test func utf8ValidatorAcceptsSplitSequencesAndRefusesBadOnes() {
        func valid(_ bytes: [UInt8], cut: Int) -> Bool {
            var validator = UTF8Validator()
            bytes[..<cut].withUnsafeBytes { validator.feed($0) }
            bytes[cut...].withUnsafeBytes { validator.feed($0) }
            return validator.finish()
        }
        let good = Array("plain ascii, then £ € 𝄞 and more ascii text".utf8)
        for cut in 0...good.count { #expect(valid(good, cut: cut), "cut \(cut)") }
        let bad: [[UInt8]] = [
            [0xA3], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0xE2, 0x82], Array("abc".utf8) + [0xFF] + Array("defghijkl".utf8),
        ]
        for bytes in bad {
            for cut in 0...bytes.count { #expect(!valid(bytes, cut: cut), "\(bytes) cut \(cut)") }
        }
    }

    @Test func duplicateWindowForgetsTheOldestAndKeepsTheRest() {
        var window = RowKeyWindow(capacity: 100)
        var generator = SystemRandomNumberGenerator()
        // Few distinct highs and clustered lows make long probe chains and many shifts.
        let keys = (0..<5000).map { _ in
            RowKey(high: UInt64.random(in: 0..<3, using: &generator), low: UInt64.random(in: 0..<400, using: &generator))
        }
        var recent: [RowKey] = []
        for key in keys {
            let expected = recent.contains(key)
            #expect(window.containsOrInsert(key) == expected)
            if !expected {
                recent.append(key)
                if recent.count > 100 { recent.removeFirst() }
            }
        }
    }
}

/// The word-at-a-time scans must agree with a plain byte loop at every position.
@Suite struct WordScanTests {
    @Test func doubleSpaceAndTabAreFoundAtEveryOffset() {
        func naive(_ bytes: [UInt8]) -> Bool {
            zip(bytes, bytes.dropFirst()).contains { $0 == 0x20 && $1 == 0x20 } || bytes.contains(0x09)
        }
        for length in 0...20 {
            for first in 0..<length {
                for second in [first + 1, first + 2, first + 7, first + 8, first + 9] where second < length {
                    for (a, b) in [(0x20, 0x20), (0x20, 0x09), (0x41, 0x20), (0x20, 0x21)] as [(UInt8, UInt8)] {
                        var bytes = [UInt8](repeating: 0x41, count: length)
                        bytes[first] = a
                        bytes[second] = b
                        let found = bytes.withUnsafeBufferPointer { RowTransformer.hasTabOrDoubleSpace($0) }
                        #expect(found == naive(bytes), "\(bytes)")
                    }
                }
            }
        }
    }

    @Test func separatorsAreFoundAtEveryOffsetOfLongFields() {
        for length in 1...24 {
            for position in 0..<length {
                for separator in [",", "\r\n", "\n", "\""] {
                    var field = [Character](repeating: "a", count: length)
                    field[position] = "b"
                    let text = String(field)
                    let quoted = separator == "\"" ? "\"\(text)\"\"\(text)\"" : text + separator + text
                    let records = parse(Array((quoted + "\n").utf8))
                    let expected: [[String]] = switch separator {
                    case ",": [[text, text]]
                    case "\"": [["\(text)\"\(text)"]]
                    default: [[text], [text]]
                    }
                    #expect(records.compactMap(\.fields) == expected)
                }
            }
        }
    }
}

@Suite struct RegionRulesTests {
    @Test func regionMatchesItsCodeAndAliasesInAnyCase() {
        let usa = RegionRules(code: "USA", aliases: ["us", "United States"], currency: "USD")
        #expect(usa.matches("usa"))
        #expect(usa.matches(" US "))
        #expect(usa.matches("united states"))
        #expect(!usa.matches("uk"))
        #expect(!usa.matches("usa2"))
    }
}
