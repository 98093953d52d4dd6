// A streaming RFC 4180 reader over bytes: feed chunks in, records come out.

/// One record of a CSV file, valid only while the event handler runs: its fields point
/// into the reader's own buffer, which the next record overwrites.
public struct CSVRecord {
    /// The physical line where the record starts (the first line of the file is 1).
    public let line: Int64
    /// How many fields the record has.
    public let fieldCount: Int
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline let ends: UnsafePointer<Int>

    /// The bytes of field `index`, quotes removed and doubled quotes undoubled.
    @inlinable public subscript(index: Int) -> UnsafeBufferPointer<UInt8> {
        let start = index == 0 ? 0 : ends[index - 1]
        return UnsafeBufferPointer(start: base + start, count: ends[index] - start)
    }

    /// All bytes of the record's fields, back to back (handy for copying a record out).
    @inlinable public var contentBytes: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base, count: fieldCount == 0 ? 0 : ends[fieldCount - 1])
    }

    /// The fields decoded as UTF-8 strings (tests and error reports; not for the hot path).
    public var strings: [String] {
        (0..<fieldCount).map { String(decoding: self[$0], as: UTF8.self) }
    }
}

/// What the reader found.
public enum CSVEvent {
    /// A complete record. Blank lines are skipped and never reported.
    case record(CSVRecord)
    /// A record longer than the limit, skipped without being buffered; `line` is where it starts.
    case recordTooLong(line: Int64)
}

/// A sans-I/O CSV reader: RFC 4180 quoting (delimiters, doubled quotes, CR, LF and CRLF inside
/// quoted fields), CR, LF or CRLF line ends, a last line with or without an end, a UTF-8
/// byte-order mark at the start (dropped). A line with no content, or with only empty unquoted
/// fields (`,,,`, as spreadsheets save empty rows), or with only spaces, is blank and skipped.
///
/// Each byte is looked at once: chunks can be split anywhere, even inside a CRLF or the BOM,
/// and the records are the same. Memory is bounded by `maxRecordBytes`: a longer record is
/// reported as `recordTooLong` and its bytes are dropped as they arrive.
///
/// Leniency, as Python's `csv` module: a quote inside an unquoted field is literal, and text
/// after a closing quote joins the field (`"ab"c` is `abc`). An unterminated quoted field
/// runs to the end of the input.
///
/// Not copyable: it owns its record buffer.
public struct CSVReader: ~Copyable {
    /// Records longer than this many bytes of content (plus one per field) are skipped.
    public let maxRecordBytes: Int
    /// The byte between fields: `,` unless the file's dialect says otherwise (`;`, tab, `|`).
    public let delimiter: UInt8
    /// `delimiter` repeated in each byte of a word, for `scan`.
    private let delimiters: UInt64

    private enum State: UInt8 { case fieldStart, unquoted, quoted, quoteAfterQuoted }

    private var bytes: UnsafeMutablePointer<UInt8>
    private var byteCount = 0
    private var byteCapacity: Int
    private var ends: UnsafeMutablePointer<Int>
    private var fieldCount = 0
    private var fieldCapacity: Int

    private var state = State.fieldStart
    private var previousWasCR = false
    private var recordStarted = false
    private var recordHadQuote = false
    private var recordTooLong = false
    private var line: Int64 = 1
    private var recordLine: Int64 = 1
    private var bomMatched = 0
    private var bomDone = false
    private var finished = false

    private static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
    private static let quote: UInt8 = 0x22, cr: UInt8 = 0x0D, lf: UInt8 = 0x0A

    /// A reader of fields separated by `delimiter` (not a quote, CR or LF) that skips records
    /// longer than `maxRecordBytes`.
    public init(maxRecordBytes: Int = 1 << 20, delimiter: UInt8 = UInt8(ascii: ",")) {
        precondition(delimiter != Self.quote && delimiter != Self.cr && delimiter != Self.lf, "not a field delimiter")
        self.maxRecordBytes = max(1, maxRecordBytes)
        self.delimiter = delimiter
        delimiters = UInt64(delimiter) &* 0x0101_0101_0101_0101
        byteCapacity = min(4096, self.maxRecordBytes)
        bytes = .allocate(capacity: byteCapacity)
        fieldCapacity = 32
        ends = .allocate(capacity: fieldCapacity)
    }

    deinit {
        bytes.deallocate()
        ends.deallocate()
    }

    /// Bytes the reader holds for the record in progress (bounded by `maxRecordBytes`).
    var storageBytes: Int { byteCapacity + fieldCapacity * MemoryLayout<Int>.stride }

    /// The physical line the reader is on (1 + line breaks seen so far).
    public var currentLine: Int64 { line }

    /// Reads `chunk` and reports each record it completes, in order.
    public mutating func feed<E: Error>(_ chunk: UnsafeRawBufferPointer, _ onEvent: (CSVEvent) throws(E) -> Void) throws(E) {
        guard let start = chunk.baseAddress?.assumingMemoryBound(to: UInt8.self), chunk.count > 0 else { return }
        precondition(!finished, "CSVReader.feed after finish")
        var offset = 0
        if !bomDone {
            while offset < chunk.count && bomMatched < 3 {
                if start[offset] == Self.bom[bomMatched] {
                    bomMatched += 1
                    offset += 1
                } else {
                    try replayPartialBOM(onEvent)
                    break
                }
            }
            if bomMatched == 3 { bomDone = true }
            if !bomDone && offset == chunk.count { return }
        }
        try process(start + offset, chunk.count - offset, onEvent)
    }

    /// Ends the input: reports the last record when it has no line end.
    public mutating func finish<E: Error>(_ onEvent: (CSVEvent) throws(E) -> Void) throws(E) {
        guard !finished else { return }
        if !bomDone { try replayPartialBOM(onEvent) }
        finished = true
        if recordStarted {
            endField()
            try endRecord(onEvent)
        }
    }

    /// The input started with part of a BOM and then something else: those bytes are data.
    private mutating func replayPartialBOM<E: Error>(_ onEvent: (CSVEvent) throws(E) -> Void) throws(E) {
        bomDone = true
        let count = bomMatched
        bomMatched = 0
        guard count > 0 else { return }
        try Self.bom.withUnsafeBufferPointer { (bom) throws(E) in try process(bom.baseAddress!, count, onEvent) }
    }

    private mutating func process<E: Error>(
        _ input: UnsafePointer<UInt8>, _ count: Int, _ onEvent: (CSVEvent) throws(E) -> Void
    ) throws(E) {
        var i = 0
        while i < count {
            let byte = input[i]
            if previousWasCR {
                previousWasCR = false
                if byte == Self.lf {
                    // The LF of a CRLF: the line was counted at the CR.
                    if state == .quoted { append(input + i, 1) }
                    i += 1
                    continue
                }
            }
            switch state {
            case .fieldStart:
                if !recordStarted {
                    recordStarted = true
                    recordLine = line
                }
                switch byte {
                case Self.quote:
                    state = .quoted
                    recordHadQuote = true
                    i += 1
                case delimiter:
                    endField()
                    i += 1
                case Self.cr, Self.lf:
                    endField()
                    try endRecord(onEvent)
                    line += 1
                    previousWasCR = byte == Self.cr
                    i += 1
                default:
                    state = .unquoted
                }
            case .unquoted:
                let j = Self.scan(input, from: i, to: count, delimiters, Self.crs, Self.lfs)
                append(input + i, j - i)
                i = j
                if i < count {
                    let c = input[i]
                    endField()
                    state = .fieldStart
                    if c != delimiter {
                        try endRecord(onEvent)
                        line += 1
                        previousWasCR = c == Self.cr
                    }
                    i += 1
                }
            case .quoted:
                let j = Self.scan(input, from: i, to: count, Self.quotes, Self.crs, Self.lfs)
                append(input + i, j - i)
                i = j
                if i < count {
                    let c = input[i]
                    if c == Self.quote {
                        state = .quoteAfterQuoted
                    } else {
                        append(input + i, 1)
                        line += 1
                        previousWasCR = c == Self.cr
                    }
                    i += 1
                }
            case .quoteAfterQuoted:
                switch byte {
                case Self.quote:
                    append(input + i, 1)
                    state = .quoted
                case delimiter:
                    endField()
                    state = .fieldStart
                case Self.cr, Self.lf:
                    endField()
                    state = .fieldStart
                    try endRecord(onEvent)
                    line += 1
                    previousWasCR = byte == Self.cr
                default:
                    append(input + i, 1)
                    state = .unquoted
                }
                i += 1
            }
        }
    }

    private static let quotes: UInt64 = 0x2222_2222_2222_2222
    private static let crs: UInt64 = 0x0D0D_0D0D_0D0D_0D0D
    private static let lfs: UInt64 = 0x0A0A_0A0A_0A0A_0A0A

    /// The index of the first byte in `from..<to` equal to a byte of one of the three
    /// patterns (each a byte repeated 8 times), or `to`. Eight bytes per step: a byte of
    /// `x = word ^ pattern` is zero where the word matches; `(x - 0x01…) & ~x & 0x80…` flags
    /// the lowest such byte exactly (higher flags may be false, and are never used).
    @inline(__always)
    private static func scan(
        _ input: UnsafePointer<UInt8>, from start: Int, to end: Int, _ a: UInt64, _ b: UInt64, _ c: UInt64
    ) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var j = start
        let raw = UnsafeRawPointer(input)
        while j + 8 <= end {
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: j, as: UInt64.self))
            let xa = word ^ a, xb = word ^ b, xc = word ^ c
            let found = ((xa &- ones) & ~xa | (xb &- ones) & ~xb | (xc &- ones) & ~xc) & highs
            if found != 0 { return j + found.trailingZeroBitCount >> 3 }
            j += 8
        }
        let ba = UInt8(truncatingIfNeeded: a), bb = UInt8(truncatingIfNeeded: b), bc = UInt8(truncatingIfNeeded: c)
        while j < end {
            let byte = input[j]
            if byte == ba || byte == bb || byte == bc { return j }
            j += 1
        }
        return end
    }

    @inline(__always)
    private mutating func append(_ source: UnsafePointer<UInt8>, _ count: Int) {
        guard count > 0, !recordTooLong else { return }
        let needed = byteCount + count
        if needed + fieldCount > maxRecordBytes {
            recordTooLong = true
            return
        }
        if needed > byteCapacity { growBytes(to: needed) }
        (bytes + byteCount).update(from: source, count: count)
        byteCount = needed
    }

    private mutating func growBytes(to needed: Int) {
        var capacity = byteCapacity
        while capacity < needed { capacity *= 2 }
        capacity = min(capacity, maxRecordBytes)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        grown.update(from: bytes, count: byteCount)
        bytes.deallocate()
        bytes = grown
        byteCapacity = capacity
    }

    @inline(__always)
    private mutating func endField() {
        guard !recordTooLong else { return }
        if byteCount + fieldCount + 1 > maxRecordBytes {
            recordTooLong = true
            return
        }
        if fieldCount == fieldCapacity {
            let grown = UnsafeMutablePointer<Int>.allocate(capacity: fieldCapacity * 2)
            grown.update(from: ends, count: fieldCount)
            ends.deallocate()
            ends = grown
            fieldCapacity *= 2
        }
        ends[fieldCount] = byteCount
        fieldCount += 1
    }

    private mutating func endRecord<E: Error>(_ onEvent: (CSVEvent) throws(E) -> Void) throws(E) {
        let tooLong = recordTooLong
        let blank = !tooLong && !recordHadQuote && (byteCount == 0 || (fieldCount == 1 && onlySpaces()))
        let count = fieldCount
        let startLine = recordLine
        byteCount = 0
        fieldCount = 0
        recordTooLong = false
        recordHadQuote = false
        recordStarted = false
        state = .fieldStart
        if tooLong {
            try onEvent(.recordTooLong(line: startLine))
        } else if !blank {
            try onEvent(.record(CSVRecord(line: startLine, fieldCount: count, base: bytes, ends: ends)))
        }
    }

    private func onlySpaces() -> Bool {
        for k in 0..<byteCount where bytes[k] != 0x20 && bytes[k] != 0x09 { return false }
        return true
    }
}
