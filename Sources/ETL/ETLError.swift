// Why a file as a whole could not be loaded.

/// A failure of a whole load. Row-level problems are not errors: they become rejected rows.
public enum ETLError: Error, Sendable, Equatable {
    /// The file has no bytes, or only a byte-order mark and blank lines.
    case emptyFile
    /// The header lacks required columns (named, in the canonical spelling).
    /// The required columns the header lacks, and the names it has.
    case missingColumns([String], found: [String])
    /// The header names the same column twice.
    case duplicateColumn(String)
    /// The header line is longer than the record limit.
    case headerTooLong(limit: Int)
    /// The file has a header and no data rows.
    case noDataRows
    /// The file is not text (NUL bytes in the header: binary, or UTF-16).
    case notCSV(String)
    /// The stored raw file could not be read.
    case readFailed(String)
    /// The warehouse refused a batch as a whole.
    case warehouseFailed(String)
    /// The rejected lines could not be written next to the raw file.
    case rejectsFailed(String)
    /// The file's revenue total does not fit the exact decimal range.
    case totalOutOfRange

    /// A stable machine code, the API's `error` field.
    public var code: String {
        switch self {
        case .emptyFile: "empty_file"
        case .missingColumns: "missing_columns"
        case .duplicateColumn: "duplicate_column"
        case .headerTooLong: "header_too_long"
        case .noDataRows: "no_data_rows"
        case .notCSV: "not_csv"
        case .readFailed: "read_failed"
        case .warehouseFailed: "warehouse_failed"
        case .rejectsFailed: "rejects_failed"
        case .totalOutOfRange: "total_out_of_range"
        }
    }

    /// A sentence for people.
    public var message: String {
        switch self {
        case .emptyFile:
            "the file is empty"
        case .missingColumns(let names, let found):
            "missing required column(s): \(names.joined(separator: ", ")); the header has "
                + (found.isEmpty ? "no names" : "\(found.count): " + found.map { $0.isEmpty ? "(blank)" : $0 }.joined(separator: ", "))
                + "; it must name " + HeaderMap.requiredColumnList
        case .duplicateColumn(let name):
            "the header names column \(name) more than once"
        case .headerTooLong(let limit):
            "the header line is longer than \(limit) bytes; is this a CSV file?"
        case .noDataRows:
            "the file has a header but no data rows"
        case .notCSV(let detail):
            "not a CSV text file: \(detail)"
        case .readFailed(let detail):
            "could not read the stored file: \(detail)"
        case .warehouseFailed(let detail):
            "the warehouse refused the rows: \(detail)"
        case .rejectsFailed(let detail):
            "could not store the rejected lines: \(detail)"
        case .totalOutOfRange:
            "the file's revenue total is beyond the exact decimal range (±9,223,372,036,854.775807)"
        }
    }
}

extension ETLError: CustomStringConvertible {
    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}
