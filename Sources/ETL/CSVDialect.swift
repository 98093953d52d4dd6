// How a file's fields are written, told from its header line: spreadsheets in most of Europe
// save "CSV" with semicolons and decimal commas, others with tabs or pipes.

/// The delimiter between fields, and whether decimals are written with a comma (`2,55`).
public struct CSVDialect: Sendable, Equatable {
    public var delimiter: UInt8
    /// Unit prices written `2,55` (and `1.234,50`): what a `;` file holds.
    public var decimalComma: Bool

    public init(delimiter: UInt8, decimalComma: Bool) {
        self.delimiter = delimiter
        self.decimalComma = decimalComma
    }

    /// RFC 4180: commas, decimal points.
    public static let standard = CSVDialect(delimiter: UInt8(ascii: ","), decimalComma: false)

    /// The delimiters a file may use, in the order they are tried.
    public static let delimiters: [(byte: UInt8, name: String)] = [
        (UInt8(ascii: ","), "comma"), (UInt8(ascii: ";"), "semicolon"), (UInt8(ascii: "\t"), "tab"), (UInt8(ascii: "|"), "pipe"),
    ]

    /// The dialect a delimiter implies: a `;` file writes decimals with a comma.
    public init(delimiter: UInt8) {
        self.init(delimiter: delimiter, decimalComma: delimiter == UInt8(ascii: ";"))
    }

    /// The dialect named `comma`, `semicolon`, `tab` or `pipe` (or the character itself); nil otherwise.
    public init?(name: String) {
        let lowered = name.lowercased()
        guard let found = Self.delimiters.first(where: { $0.name == lowered || String(UnicodeScalar($0.byte)) == name })
        else { return nil }
        self.init(delimiter: found.byte)
    }

    /// `comma`, `semicolon`, `tab` or `pipe`.
    public var delimiterName: String {
        Self.delimiters.first { $0.byte == delimiter }?.name ?? String(UnicodeScalar(delimiter))
    }

    /// The dialect of a file from its first bytes (its header line, after any byte-order mark):
    /// the first delimiter with which the header names every required column; when none does,
    /// the one that splits the header into the most fields (so the missing-columns answer lists
    /// what the file really has); comma when the header is a single field either way.
    static func sniff(_ start: UnsafeRawBufferPointer, encoding: TextEncoding, maxRecordBytes: Int) -> CSVDialect {
        var best = (dialect: Self.standard, fields: 1)
        for candidate in delimiters {
            guard let names = headerNames(start, delimiter: candidate.byte, encoding: encoding, maxRecordBytes: maxRecordBytes)
            else { continue }
            if (try? HeaderMap(names: names)) != nil { return CSVDialect(delimiter: candidate.byte) }
            if names.count > best.fields { best = (CSVDialect(delimiter: candidate.byte), names.count) }
        }
        return best.dialect
    }

    private struct FirstRecord: Error {
        var names: [String]
    }

    /// The fields of the first record of `start` split at `delimiter`; nil when there is none.
    private static func headerNames(_ start: UnsafeRawBufferPointer, delimiter: UInt8, encoding: TextEncoding,
                                    maxRecordBytes: Int) -> [String]? {
        var reader = CSVReader(maxRecordBytes: maxRecordBytes, delimiter: delimiter)
        let stop = { (event: CSVEvent) throws(FirstRecord) in
            guard case .record(let record) = event else { throw FirstRecord(names: []) }
            throw FirstRecord(names: (0..<record.fieldCount).map { field in
                encoding == .windows1252 ? Windows1252.string(record[field]) : String(decoding: record[field], as: UTF8.self)
            })
        }
        do {
            try reader.feed(start, stop)
            try reader.finish(stop)
        } catch {
            return error.names.isEmpty ? nil : error.names
        }
        return nil
    }
}

extension ExactDecimal {
    /// Parses a decimal written with a decimal comma (`2,55`, `-0,5`, `1.234,50`: dots group
    /// thousands, in threes, only before a comma); text with no comma is parsed as written.
    static func parse(decimalComma bytes: UnsafeBufferPointer<UInt8>) -> ExactDecimal? {
        guard let comma = bytes.firstIndex(of: UInt8(ascii: ",")) else { return parse(bytes) }
        var normalized: [UInt8] = []
        normalized.reserveCapacity(bytes.count)
        var digitsSinceDot = -1  // -1: no dot seen yet
        var digitsBeforeFirstDot = 0
        for index in 0..<comma {
            let byte = bytes[index]
            if byte == UInt8(ascii: ".") {
                // A group separator: 1–3 digits before the first, exactly 3 between the others.
                if digitsSinceDot < 0 {
                    guard (1...3).contains(digitsBeforeFirstDot) else { return nil }
                } else if digitsSinceDot != 3 {
                    return nil
                }
                digitsSinceDot = 0
                continue
            }
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                if digitsSinceDot >= 0 { digitsSinceDot += 1 } else { digitsBeforeFirstDot += 1 }
            }
            normalized.append(byte)
        }
        guard digitsSinceDot < 0 || digitsSinceDot == 3 else { return nil }
        normalized.append(UInt8(ascii: "."))
        for index in (comma + 1)..<bytes.count {
            let byte = bytes[index]
            guard byte != UInt8(ascii: ","), byte != UInt8(ascii: ".") else { return nil }
            normalized.append(byte)
        }
        return normalized.withUnsafeBufferPointer { parse($0) }
    }
}
