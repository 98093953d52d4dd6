// The CSV reader and the row transformation. The first byte picks the split, the date order,
// the encoding, the record limit and the delimiter (comma, or semicolon with decimal commas);
// the rest is a CSV file. The dialect sniffed from it is one of the known ones. Invariants: the records are the
// same whatever the split; records written again (every field quoted) read back the same;
// a transformed row agrees with itself (revenue = quantity × price, limits kept, the same
// key when transformed twice).
@testable import ETL

private enum Item: Equatable {
    case record(line: Int64, fields: [[UInt8]])
    case tooLong(line: Int64)
}

private func read(_ input: UnsafeBufferPointer<UInt8>, pieces: [Int], maxRecordBytes: Int, delimiter: UInt8,
                  _ each: (CSVRecord) -> Void = { _ in }) -> [Item] {
    var reader = CSVReader(maxRecordBytes: maxRecordBytes, delimiter: delimiter)
    var items: [Item] = []
    let handle = { (event: CSVEvent) in
        switch event {
        case .record(let record):
            if record.contentBytes.count + record.fieldCount > maxRecordBytes { violated("a record over the limit came out") }
            if record.fieldCount < 1 { violated("a record without fields") }
            items.append(.record(line: record.line, fields: (0..<record.fieldCount).map { Array(record[$0]) }))
            each(record)
        case .recordTooLong(let line):
            items.append(.tooLong(line: line))
        }
    }
    var offset = 0
    for length in pieces {
        reader.feed(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: input[offset..<(offset + length)])), handle)
        offset += length
    }
    reader.finish(handle)
    return items
}

private func quoted(_ records: [[[UInt8]]], delimiter: UInt8) -> [UInt8] {
    var out: [UInt8] = []
    for fields in records {
        for (index, field) in fields.enumerated() {
            if index > 0 { out.append(delimiter) }
            out.append(0x22)
            for byte in field {
                if byte == 0x22 { out.append(0x22) }
                out.append(byte)
            }
            out.append(0x22)
        }
        out.append(0x0A)
    }
    return out
}

/// Two transformers of the same file: one row must give the same result in both.
private final class Transformers {
    var first: RowTransformer
    var second: RowTransformer

    init(_ header: HeaderMap, _ region: RegionRules, _ encoding: TextEncoding, _ settings: ETLSettings, decimalComma: Bool) {
        first = RowTransformer(header: header, region: region, encoding: encoding, settings: settings, decimalComma: decimalComma)
        second = RowTransformer(header: header, region: region, encoding: encoding, settings: settings, decimalComma: decimalComma)
    }
}

private let canonicalHeader = try! HeaderMap(names: Column.allCases.map(\.canonicalName))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSVRows(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let seed = data[0]
    let input = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let maxRecordBytes = seed & 0x10 == 0 ? 1 << 20 : 64 + Int(seed & 0x0F) * 16
    let dialect = seed & 0x80 == 0 ? CSVDialect.standard : CSVDialect(delimiter: UInt8(ascii: ";"))
    let delimiter = dialect.delimiter
    let sniffed = CSVDialect.sniff(UnsafeRawBufferPointer(input), encoding: .utf8, maxRecordBytes: maxRecordBytes)
    if !CSVDialect.delimiters.contains(where: { $0.byte == sniffed.delimiter }) { violated("an unknown delimiter was sniffed") }
    let whole = read(input, pieces: [input.count], maxRecordBytes: maxRecordBytes, delimiter: delimiter)
    let split = read(input, pieces: Array(Pieces(seed: seed, total: input.count, maxPiece: Int(seed & 0x1F) + 1)),
                     maxRecordBytes: maxRecordBytes, delimiter: delimiter)
    if whole != split { violated("split changes the records") }

    // Written again with every field quoted, the records read back the same (line numbers aside).
    let records: [[[UInt8]]] = whole.compactMap { if case .record(_, let fields) = $0 { fields } else { nil } }
    let rewritten = quoted(records, delimiter: delimiter)
    let reread = rewritten.withUnsafeBufferPointer { read($0, pieces: [$0.count], maxRecordBytes: maxRecordBytes, delimiter: delimiter) }
    let rereadFields: [[[UInt8]]] = reread.compactMap { if case .record(_, let fields) = $0 { fields } else { nil } }
    if rereadFields != records { violated("quoted records read back differently") }

    // Transform: the file's header when it names the eight columns, else the canonical one.
    var header = canonicalHeader
    var first = true
    let region = RegionRules(code: "IN", dateOrder: seed & 0x20 == 0 ? .mdy : .dmy, currency: "GBP")
    let settings = ETLSettings(maxRecordBytes: maxRecordBytes)
    let encoding: TextEncoding = seed & 0x40 == 0 ? .utf8 : .windows1252
    var transformer: Transformers? = nil
    _ = read(input, pieces: [input.count], maxRecordBytes: maxRecordBytes, delimiter: delimiter) { record in
        if first {
            first = false
            if let map = try? HeaderMap(names: record.strings) {
                header = map
                transformer = Transformers(header, region, encoding, settings, decimalComma: dialect.decimalComma)
                return
            }
            transformer = Transformers(header, region, encoding, settings, decimalComma: dialect.decimalComma)
        }
        let result = transformer!.first.transform(record)
        let second = transformer!.second.transform(record)
        switch (result, second) {
        case (.success(let row), .success(let other)):
            if row != other { violated("the same record gave two rows") }
            if row.invoiceNo.isEmpty || row.stockCode.isEmpty { violated("a row without invoice or stock code") }
            if row.quantity.magnitude > settings.maxAbsQuantity.magnitude { violated("quantity beyond the limit") }
            if row.revenue.micros != row.unitPrice.micros * row.quantity { violated("revenue is not quantity × price") }
            if row.stockCode.utf8.contains(where: { $0 >= 0x61 && $0 <= 0x7A }) { violated("a lower-case stock code") }
            if row.sourceLine != record.line { violated("the row's line is not the record's") }
            if let description = row.description, description.contains("  ") || description.contains("\t") {
                violated("a description with a run of spaces")
            }
        case (.failure(let a), .failure(let b)):
            if a.reason != b.reason { violated("the same record was rejected for two reasons") }
        default:
            violated("the same record was accepted once and rejected once")
        }
    }
    return 0
}
