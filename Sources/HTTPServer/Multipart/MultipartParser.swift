// A streaming multipart/form-data parser (RFC 7578, RFC 2046 §5.1), sans-I/O:
// append bytes as they arrive, then read events until `next()` answers nil.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Parses a multipart body incrementally, in memory bounded by the limits and
/// the size of the chunks appended (not by the size of the parts).
///
/// Body bytes are handed out as soon as they cannot belong to a delimiter, so
/// at most the boundary's length plus 4 bytes are held back. Delimiters are
/// searched with `memchr` for the line feed that starts them, resuming where
/// the last search stopped, so the work is linear in the body size whatever
/// the chunk sizes, for CRLF and LF-only bodies alike. The preamble, transport
/// padding after a boundary, and the epilogue are ignored.
///
/// Use: `append` a chunk, call `next()` until it answers nil, repeat; call
/// `finish()` after the last chunk and drain `next()` once more (it throws
/// `.truncated` if the closing boundary never came).
public struct MultipartParser: Sendable {
    private enum State {
        /// Before the first boundary: bytes are discarded.
        case preamble
        /// Right after `--boundary`: `--` closes the body, otherwise padding and a line end.
        case afterBoundary
        /// Reading the header lines of a part.
        case headers
        /// Handing out a part's body.
        case body
        /// After the closing boundary.
        case done
    }

    /// Where a search for the next delimiter got to.
    private enum DelimiterSearch {
        /// A delimiter whose line feed is at `lineFeed`; the part's content ends
        /// at `contentEnd` (before an optional CR) and the delimiter at `delimiterEnd`.
        case found(contentEnd: Int, lineFeed: Int, delimiterEnd: Int)
        /// No delimiter yet: bytes before `safeEnd` are content; the next search starts at `resumeAt`.
        case notFound(safeEnd: Int, resumeAt: Int)
    }

    private let limits: MultipartLimits
    /// `--` followed by the boundary.
    private let dashBoundary: [UInt8]
    private var buffer: [UInt8] = []
    /// First byte not yet consumed.
    private var readIndex = 0
    /// Where the next delimiter or line search starts (never before `readIndex`).
    private var scanIndex = 0
    private var state = State.preamble
    /// True until the first bytes of the preamble are known not to be a boundary.
    private var atStreamStart = true
    private var inputFinished = false
    private var failure: MultipartError?
    private var partCount = 0
    private var headerLines: [(name: String, value: String)] = []
    private var headerBytes = 0
    /// Body bytes of the current part when it is a form field; nil for a file.
    private var fieldBytes: Int?
    private var fieldName: String?

    /// Starts a parser for the boundary of the request's Content-Type
    /// (see `boundary(fromContentType:)`).
    public init(boundary: String, limits: MultipartLimits = .init()) {
        self.limits = limits
        self.dashBoundary = Array("--\(boundary)".utf8)
    }

    /// Bytes held and not yet consumed.
    public var bufferedByteCount: Int { buffer.count - readIndex }
    /// The capacity of the internal buffer, in bytes: what the parser holds in memory.
    public var bufferCapacity: Int { buffer.capacity }

    /// Adds the next bytes of the body. Bytes after the closing boundary are dropped.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard prepareForAppend() else { return }
        bytes.withMemoryRebound(to: UInt8.self) { buffer.append(contentsOf: $0) }
    }

    /// Adds the next bytes of the body.
    public mutating func append(_ bytes: [UInt8]) {
        guard prepareForAppend() else { return }
        buffer.append(contentsOf: bytes)
    }

    /// Adds the next bytes of the body.
    public mutating func append(_ bytes: ArraySlice<UInt8>) {
        guard prepareForAppend() else { return }
        buffer.append(contentsOf: bytes)
    }

    /// Says that no more bytes will come: a body not closed by then is truncated.
    public mutating func finish() {
        inputFinished = true
    }

    /// The next event, or nil when more input is needed (or after `.end`).
    public mutating func next() throws(MultipartError) -> MultipartEvent? {
        if let failure { throw failure }
        do {
            return try step()
        } catch {
            failure = error
            throw error
        }
    }

    /// Drops consumed bytes when that is cheap compared to what was consumed
    /// (so compaction costs amortized O(1) per byte), and refuses input after the end.
    private mutating func prepareForAppend() -> Bool {
        if state == .done || failure != nil || inputFinished { return false }
        let unconsumed = buffer.count - readIndex
        if readIndex > 0, unconsumed <= readIndex {
            if unconsumed == 0 {
                buffer.removeAll(keepingCapacity: true)
            } else {
                buffer.removeSubrange(0..<readIndex)
            }
            scanIndex -= readIndex
            readIndex = 0
        }
        return true
    }

    private mutating func step() throws(MultipartError) -> MultipartEvent? {
        while true {
            switch state {
            case .preamble:
                guard try skipPreamble() else { return nil }
            case .afterBoundary:
                switch try readBoundaryLineEnd() {
                case nil: return nil
                case true?:
                    state = .done
                    buffer = []
                    readIndex = 0
                    scanIndex = 0
                    return .end
                case false?:
                    state = .headers
                    headerLines = []
                    headerBytes = 0
                    scanIndex = readIndex
                }
            case .headers:
                return try readHeaders()
            case .body:
                return try readBody()
            case .done:
                return nil
            }
        }
    }

    // MARK: Preamble and boundary lines

    /// Discards preamble bytes; true once the first boundary was consumed.
    private mutating func skipPreamble() throws(MultipartError) -> Bool {
        if atStreamStart {
            let available = buffer.count - readIndex
            let compared = min(available, dashBoundary.count)
            if buffer[readIndex..<readIndex + compared].elementsEqual(dashBoundary[0..<compared]) {
                if compared == dashBoundary.count {
                    readIndex += compared
                    scanIndex = readIndex
                    state = .afterBoundary
                    return true
                }
                if inputFinished { throw .truncated }
                return false
            }
            atStreamStart = false
        }
        switch searchDelimiter() {
        case .found(_, _, let delimiterEnd):
            readIndex = delimiterEnd
            scanIndex = delimiterEnd
            state = .afterBoundary
            return true
        case .notFound(let safeEnd, let resumeAt):
            readIndex = safeEnd
            scanIndex = resumeAt
            if inputFinished { throw .truncated }
            return false
        }
    }

    /// After `--boundary`: true for the closing `--`, false for padding and a
    /// line end (a part follows), nil when more bytes are needed.
    private mutating func readBoundaryLineEnd() throws(MultipartError) -> Bool? {
        while readIndex < buffer.count {
            switch buffer[readIndex] {
            case UInt8(ascii: "-"):
                guard readIndex + 1 < buffer.count else { break }
                guard buffer[readIndex + 1] == UInt8(ascii: "-") else { throw .malformedBoundaryLine }
                readIndex += 2
                return true
            case 0x20, 0x09:
                readIndex += 1
                continue
            case 0x0D:
                guard readIndex + 1 < buffer.count else { break }
                guard buffer[readIndex + 1] == 0x0A else { throw .malformedBoundaryLine }
                readIndex += 2
                return false
            case 0x0A:
                readIndex += 1
                return false
            default:
                throw .malformedBoundaryLine
            }
            break
        }
        if inputFinished { throw .truncated }
        return nil
    }

    // MARK: Headers

    /// Reads header lines; the part's head once the blank line is read, nil when more bytes are needed.
    private mutating func readHeaders() throws(MultipartError) -> MultipartEvent? {
        while true {
            guard let lineFeed = findByte(0x0A, from: scanIndex) else {
                if headerBytes + (buffer.count - readIndex) > limits.maxPartHeaderBytes {
                    throw .partHeadersTooLong(limit: limits.maxPartHeaderBytes)
                }
                scanIndex = buffer.count
                if inputFinished { throw .truncated }
                return nil
            }
            headerBytes += lineFeed + 1 - readIndex
            if headerBytes > limits.maxPartHeaderBytes {
                throw .partHeadersTooLong(limit: limits.maxPartHeaderBytes)
            }
            var lineEnd = lineFeed
            if lineEnd > readIndex, buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let lineStart = readIndex
            readIndex = lineFeed + 1
            scanIndex = readIndex
            if lineEnd == lineStart {
                return try beginPart()
            }
            try addHeaderLine(buffer[lineStart..<lineEnd])
        }
    }

    private mutating func addHeaderLine(_ line: ArraySlice<UInt8>) throws(MultipartError) {
        let first = line[line.startIndex]
        if first == 0x20 || first == 0x09 {
            // An obsolete folded line continues the previous header's value.
            guard !headerLines.isEmpty else { throw .malformedPartHeaders("a continuation line comes first") }
            let continuation = trimmedString(line)
            if !continuation.isEmpty { headerLines[headerLines.count - 1].value += " " + continuation }
            return
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw .malformedPartHeaders("a header line has no ':'")
        }
        let name = trimmedString(line[line.startIndex..<colon])
        guard !name.isEmpty else { throw .malformedPartHeaders("a header has no name") }
        headerLines.append((name: name, value: trimmedString(line[(colon + 1)...])))
    }

    private mutating func beginPart() throws(MultipartError) -> MultipartEvent {
        partCount += 1
        if partCount > limits.maxParts { throw .tooManyParts(limit: limits.maxParts) }
        let head = MultipartPartHead(headers: headerLines)
        headerLines = []
        fieldBytes = head.isFile ? nil : 0
        fieldName = head.name
        state = .body
        scanIndex = readIndex
        return .partBegin(head)
    }

    private func trimmedString(_ bytes: ArraySlice<UInt8>) -> String {
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    // MARK: Body

    private mutating func readBody() throws(MultipartError) -> MultipartEvent? {
        switch searchDelimiter() {
        case .found(let contentEnd, let lineFeed, let delimiterEnd):
            if contentEnd > readIndex {
                // Hand out the content first; the next call finds the same delimiter at once.
                scanIndex = lineFeed
                return try emitBody(upTo: contentEnd)
            }
            readIndex = delimiterEnd
            scanIndex = delimiterEnd
            state = .afterBoundary
            return .partEnd
        case .notFound(let safeEnd, let resumeAt):
            scanIndex = resumeAt
            if safeEnd > readIndex { return try emitBody(upTo: safeEnd) }
            if inputFinished { throw .truncated }
            return nil
        }
    }

    private mutating func emitBody(upTo end: Int) throws(MultipartError) -> MultipartEvent {
        if let counted = fieldBytes {
            let total = counted + (end - readIndex)
            if total > limits.maxFieldValueBytes {
                throw .fieldValueTooLong(name: fieldName, limit: limits.maxFieldValueBytes)
            }
            fieldBytes = total
        }
        let slice = buffer[readIndex..<end]
        readIndex = end
        return .body(slice)
    }

    // MARK: Searching

    /// Looks for `LF--boundary` (optionally preceded by CR) from `scanIndex`.
    /// Each line feed is checked once against the boundary, except a final one
    /// whose following bytes have not all arrived, which is checked again later.
    private func searchDelimiter() -> DelimiterSearch {
        let count = buffer.count
        let start = scanIndex
        let readIndex = self.readIndex
        guard start < count else { return .notFound(safeEnd: heldBackEnd(count), resumeAt: count) }
        return buffer.withUnsafeBufferPointer { bytes -> DelimiterSearch in
            dashBoundary.withUnsafeBufferPointer { pattern -> DelimiterSearch in
                let base = bytes.baseAddress!
                var position = start
                while position < count {
                    guard let hit = memchr(base + position, 0x0A, count - position) else { break }
                    let lineFeed = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
                    let available = count - lineFeed - 1
                    let compared = min(available, pattern.count)
                    // Most lines of a file do not start with the delimiter's first byte: skip the call.
                    if compared == 0 || base[lineFeed + 1] == pattern[0],
                       memcmp(base + lineFeed + 1, pattern.baseAddress!, compared) == 0 {
                        var contentEnd = lineFeed
                        if contentEnd > readIndex, base[contentEnd - 1] == 0x0D { contentEnd -= 1 }
                        if compared == pattern.count {
                            return .found(contentEnd: contentEnd, lineFeed: lineFeed, delimiterEnd: lineFeed + 1 + compared)
                        }
                        return .notFound(safeEnd: contentEnd, resumeAt: lineFeed)
                    }
                    position = lineFeed + 1
                }
                // No line feed left: all is content but a final CR, which may start a delimiter.
                var safeEnd = count
                if safeEnd > readIndex, base[safeEnd - 1] == 0x0D { safeEnd -= 1 }
                return .notFound(safeEnd: safeEnd, resumeAt: count)
            }
        }
    }

    /// The end of the bytes that are surely content when no byte is left to search.
    private func heldBackEnd(_ count: Int) -> Int {
        if count > readIndex, buffer[count - 1] == 0x0D { return count - 1 }
        return count
    }

    /// The index of the first `byte` at or after `start`, by `memchr`.
    private func findByte(_ byte: UInt8, from start: Int) -> Int? {
        let count = buffer.count
        guard start < count else { return nil }
        return buffer.withUnsafeBufferPointer { bytes -> Int? in
            let base = bytes.baseAddress!
            guard let hit = memchr(base + start, Int32(byte), count - start) else { return nil }
            return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
        }
    }
}
