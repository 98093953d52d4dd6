// The rejected lines of a load, as a CSV next to the raw file.

/// Writes rejected lines as RFC 4180 CSV: the file's header plus an `error` column, then each
/// rejected line's original fields (as UTF-8) plus `line N: reason: message`. Lines end in
/// CRLF. Output is buffered and handed to the object writer in large pieces. Every line has the
/// header's column count, so `error` is always the last column: a short line is padded with empty
/// fields, and a long line's surplus fields are kept, comma-joined, in its last column.
final class RejectsWriter {
    private let writer: any ObjectWriter
    private let columnCount: Int
    private var buffer: [UInt8] = []
    private let flushBytes: Int
    private(set) var rowsWritten = 0

    init(writer: any ObjectWriter, headerNames: [String], flushBytes: Int = 64 * 1024) throws {
        self.writer = writer
        self.columnCount = max(1, headerNames.count)
        self.flushBytes = flushBytes
        buffer.reserveCapacity(flushBytes + 1024)
        for (k, name) in headerNames.enumerated() {
            if k > 0 { buffer.append(UInt8(ascii: ",")) }
            Self.appendField(Array(name.utf8)[...], to: &buffer)
        }
        buffer.append(UInt8(ascii: ","))
        buffer.append(contentsOf: "error".utf8)
        buffer.append(contentsOf: [0x0D, 0x0A])
    }

    /// Adds one rejected line: its fields as UTF-8 byte strings, and why it was rejected.
    func write(fields: [ArraySlice<UInt8>], line: Int64, reason: String, message: String) throws {
        for index in 0..<columnCount {
            if index < fields.count - 1 && index == columnCount - 1 {
                // The surplus of a long line, joined back as it was written.
                var rest: [UInt8] = []
                for (k, field) in fields[index...].enumerated() {
                    if k > 0 { rest.append(UInt8(ascii: ",")) }
                    rest.append(contentsOf: field)
                }
                Self.appendField(rest[...], to: &buffer)
            } else if index < fields.count {
                Self.appendField(fields[index], to: &buffer)
            }
            buffer.append(UInt8(ascii: ","))
        }
        Self.appendField(Array("line \(line): \(reason): \(message)".utf8)[...], to: &buffer)
        buffer.append(contentsOf: [0x0D, 0x0A])
        rowsWritten += 1
        if buffer.count >= flushBytes { try flush() }
    }

    /// Writes what is buffered and makes the object durable.
    func finish() throws -> StoredObject {
        try flush()
        return try writer.finish()
    }

    func abort() { writer.abort() }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writer.write($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// A field, quoted when it holds a comma, a quote, a line break or edge spaces. A field that a
    /// spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a CR, and is
    /// not a plain number) gets a leading `'`, as OWASP's CSV-injection rule says.
    static func appendField(_ field: ArraySlice<UInt8>, to output: inout [UInt8]) {
        if isFormulaLike(field) {
            appendField([UInt8(ascii: "'")] + field, to: &output)
            return
        }
        let needsQuotes = field.contains { $0 == 0x2C || $0 == 0x22 || $0 == 0x0D || $0 == 0x0A }
            || field.first == 0x20 || field.last == 0x20
        guard needsQuotes else {
            output.append(contentsOf: field)
            return
        }
        output.append(0x22)
        for byte in field {
            output.append(byte)
            if byte == 0x22 { output.append(0x22) }
        }
        output.append(0x22)
    }

    /// Starts like a formula and is not a plain number such as `-10` or `-2.55`.
    static func isFormulaLike(_ field: ArraySlice<UInt8>) -> Bool {
        guard let first = field.first else { return false }
        switch first {
        case UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "@"), 0x09, 0x0D: return true
        case UInt8(ascii: "-"): return !isPlainNumber(field.dropFirst())
        default: return false
        }
    }

    /// Digits, optionally with one `.` between digits.
    private static func isPlainNumber(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let first = bytes.first, let last = bytes.last, first != UInt8(ascii: "."), last != UInt8(ascii: ".") else { return false }
        var dots = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") { dots += 1; if dots > 1 { return false } } else if byte < 48 || byte > 57 { return false }
        }
        return true
    }
}
