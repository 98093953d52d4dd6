import Glibc

/// What the request parser found in the bytes fed to it so far.
public enum HTTPParserEvent: Sendable, Equatable {
    /// A complete request head. Body events (if any) and then `end` follow.
    case head(HTTPRequestHead)
    /// Some bytes of the body, decoded from chunked coding if it was used.
    /// The slice shares the parser's buffer: copy it before feeding the parser more bytes.
    case body(ArraySlice<UInt8>)
    /// The end of the current request, with the trailer fields of a chunked body (empty otherwise).
    case end(trailers: HTTPHeaders)

    public static func == (lhs: HTTPParserEvent, rhs: HTTPParserEvent) -> Bool {
        switch (lhs, rhs) {
        case let (.head(a), .head(b)):
            return a.method == b.method && a.target == b.target && a.version == b.version && a.headers == b.headers
                && a.keepAlive == b.keepAlive && a.contentLength == b.contentLength && a.isChunked == b.isChunked
        case let (.body(a), .body(b)): return a.elementsEqual(b)
        case let (.end(a), .end(b)): return a == b
        default: return false
        }
    }
}

/// A sans-I/O HTTP/1.1 request parser: feed bytes with `append`, take events with `next`.
///
/// Lines are scanned once: the parser remembers where the last scan stopped, so a head that
/// arrives a byte at a time costs linear time. Several requests in one buffer (pipelining)
/// come out one after the other. Anything ambiguous enough to enable request smuggling is
/// rejected with 400 (the connection must then be closed).
public struct HTTPRequestParser {
    /// Limits enforced while parsing.
    public let limits: HTTPLimits

    private var buffer: [UInt8] = []
    /// First byte not consumed yet.
    private var readIndex = 0
    /// Where the search for the next line feed resumes (never before `readIndex`).
    private var scanIndex = 0
    private var state: State = .requestLine
    private var head = HeadBuilder()

    private enum State {
        case requestLine
        case headers
        case fixedBody(remaining: Int64)
        case chunkSize
        case chunkData(remaining: Int64)
        case chunkDataEnd
        case trailers
        case endPending
        case failed(HTTPError)
    }

    /// A parser with the given limits.
    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Bytes received but not consumed yet.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Whether the parser is between requests with nothing buffered (an idle keep-alive connection).
    public var isIdle: Bool {
        if case .requestLine = state, readIndex == buffer.count { return true }
        return false
    }

    /// Whether the parser is inside a request head (some of it received, not all).
    public var isInsideHead: Bool {
        switch state {
        case .requestLine: return readIndex < buffer.count
        case .headers: return true
        default: return false
        }
    }

    /// Body bytes still expected when the parser is inside a Content-Length body and holds no
    /// buffered bytes; nil otherwise. The caller may then receive up to this many bytes into its own
    /// buffer and report them with `skipBody`, saving a copy through the parser.
    public var directBodyBytesExpected: Int64? {
        if case .fixedBody(let remaining) = state, readIndex == buffer.count { return remaining }
        return nil
    }

    /// Records `count` body bytes received outside the parser (at most `directBodyBytesExpected`).
    public mutating func skipBody(_ count: Int) {
        guard case .fixedBody(let remaining) = state, readIndex == buffer.count, Int64(count) <= remaining else {
            preconditionFailure("skipBody outside a directly received body")
        }
        state = remaining == Int64(count) ? .endPending : .fixedBody(remaining: remaining - Int64(count))
    }

    /// Feeds received bytes.
    public mutating func append<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Feeds received bytes from raw memory.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Frees a large, empty buffer (keeps idle connections cheap).
    public mutating func releaseMemoryIfIdle(keepingUpTo capacity: Int = 16 << 10) {
        if readIndex == buffer.count && buffer.capacity > capacity {
            buffer = []
            readIndex = 0
            scanIndex = 0
        }
    }

    private mutating func compact() {
        if readIndex == 0 { return }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
            scanIndex = 0
        } else if readIndex >= 4096 || readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
    }

    /// The next event, or nil when more bytes are needed. After an error the parser stays failed.
    public mutating func next() throws(HTTPError) -> HTTPParserEvent? {
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func step() throws(HTTPError) -> HTTPParserEvent? {
        while true {
            switch state {
            case .failed(let error):
                throw error
            case .requestLine:
                guard let line = try nextLine(limit: limits.maxRequestLineBytes, overLimit: Self.uriTooLong) else {
                    return nil
                }
                if line.isEmpty {
                    head.emptyLinesSkipped += 1
                    if head.emptyLinesSkipped > 8 { throw .badRequest("bad_request_line", "Too many empty lines before the request.") }
                    continue
                }
                try parseRequestLine(line)
                state = .headers
            case .headers:
                let budget = limits.maxHeaderBytes - head.headerBytes
                guard let line = try nextLine(limit: budget, overLimit: Self.headersTooLarge) else { return nil }
                head.headerBytes += line.consumed
                if line.isEmpty {
                    return .head(try finishHead())
                }
                let field = try parseField(line, fieldCount: head.headers.count, isTrailer: false)
                head.headers.add(field.name, field.value)
            case .fixedBody(let remaining):
                let available = buffer.count - readIndex
                if available == 0 { return nil }
                let take = Int(min(Int64(available), remaining))
                let slice = buffer[readIndex..<(readIndex + take)]
                consume(take)
                state = remaining == Int64(take) ? .endPending : .fixedBody(remaining: remaining - Int64(take))
                return .body(slice)
            case .chunkSize:
                guard let line = try nextLine(limit: limits.maxChunkSizeLineBytes, overLimit: Self.badChunk) else {
                    return nil
                }
                let size = try parseChunkSize(line)
                head.bodyBytes += size
                if head.bodyBytes < 0 { throw Self.badChunk }
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let available = buffer.count - readIndex
                if available == 0 { return nil }
                let take = Int(min(Int64(available), remaining))
                let slice = buffer[readIndex..<(readIndex + take)]
                consume(take)
                state = remaining == Int64(take) ? .chunkDataEnd : .chunkData(remaining: remaining - Int64(take))
                return .body(slice)
            case .chunkDataEnd:
                guard readIndex < buffer.count else { return nil }
                if buffer[readIndex] == ASCII.lf {
                    consume(1)
                } else if buffer[readIndex] == ASCII.cr {
                    guard readIndex + 1 < buffer.count else { return nil }
                    guard buffer[readIndex + 1] == ASCII.lf else { throw Self.badChunk }
                    consume(2)
                } else {
                    throw Self.badChunk
                }
                state = .chunkSize
            case .trailers:
                let budget = limits.maxHeaderBytes - head.trailerBytes
                guard let line = try nextLine(limit: budget, overLimit: Self.headersTooLarge) else { return nil }
                head.trailerBytes += line.consumed
                if line.isEmpty {
                    state = .endPending
                    continue
                }
                let field = try parseField(line, fieldCount: head.trailers.count, isTrailer: true)
                head.trailers.add(field.name, field.value)
            case .endPending:
                let trailers = head.trailers
                head = HeadBuilder()
                state = .requestLine
                return .end(trailers: trailers)
            }
        }
    }

    // MARK: Lines

    /// A line of the buffer: `start..<end` without its CRLF or LF; `consumed` counts the terminator too.
    private struct Line {
        var start: Int
        var end: Int
        var consumed: Int
        var isEmpty: Bool { start == end }
    }

    /// The next complete line, consuming it; nil when its end has not arrived yet.
    /// Throws `overLimit` when the line (complete or not) is longer than `limit`, and 400 on a bare CR.
    private mutating func nextLine(limit: Int, overLimit: HTTPError) throws(HTTPError) -> Line? {
        let count = buffer.count
        let from = scanIndex
        let found: Int? = buffer.withUnsafeBufferPointer { pointer -> Int? in
            guard from < count, let base = pointer.baseAddress,
                  let hit = memchr(base + from, Int32(ASCII.lf), count - from) else { return nil }
            return UnsafeRawPointer(hit) - UnsafeRawPointer(base)
        }
        guard let lineFeed = found else {
            scanIndex = count
            // Pending bytes may still lack a CR that would be dropped, hence the + 1.
            if count - readIndex > limit + 1 { throw overLimit }
            return nil
        }
        let start = readIndex
        var end = lineFeed
        if end > start && buffer[end - 1] == ASCII.cr { end -= 1 }
        let consumed = lineFeed + 1 - start
        if end - start > limit || consumed > limit + 2 { throw overLimit }
        let hasBareCR = buffer.withUnsafeBufferPointer { pointer -> Bool in
            guard end > start, let base = pointer.baseAddress else { return false }
            return memchr(base + start, Int32(ASCII.cr), end - start) != nil
        }
        if hasBareCR { throw .badRequest("bare_cr", "A carriage return not followed by a line feed.") }
        readIndex = lineFeed + 1
        scanIndex = readIndex
        return Line(start: start, end: end, consumed: consumed)
    }

    private mutating func consume(_ count: Int) {
        readIndex += count
        scanIndex = readIndex
    }

    private func string(_ range: Range<Int>) -> String {
        buffer.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self) }
    }

    // MARK: Request line

    private mutating func parseRequestLine(_ line: Line) throws(HTTPError) {
        let badLine = HTTPError.badRequest("bad_request_line", "The request line is malformed.")
        var index = line.start
        while index < line.end && buffer[index] != ASCII.space {
            if !ASCII.isTokenByte[Int(buffer[index])] { throw badLine }
            index += 1
        }
        let methodEnd = index
        guard methodEnd > line.start, methodEnd < line.end else { throw badLine }
        let targetStart = methodEnd + 1
        index = targetStart
        while index < line.end && buffer[index] != ASCII.space {
            let byte = buffer[index]
            if byte < 0x21 || byte == 0x7F { throw .badRequest("bad_target", "The request target contains a control character.") }
            index += 1
        }
        let targetEnd = index
        guard targetEnd > targetStart, targetEnd < line.end else { throw badLine }
        let versionStart = targetEnd + 1
        head.version = try parseVersion(versionStart..<line.end)
        head.method = string(line.start..<methodEnd)
        head.target = string(targetStart..<targetEnd)
        try splitTarget(targetStart..<targetEnd)
    }

    private func parseVersion(_ range: Range<Int>) throws(HTTPError) -> HTTPVersion {
        let prefix: [UInt8] = Array("HTTP/".utf8)
        guard range.count == 8, buffer[range.lowerBound..<(range.lowerBound + 5)].elementsEqual(prefix),
              buffer[range.lowerBound + 6] == UInt8(ascii: "."),
              case let major = buffer[range.lowerBound + 5], case let minor = buffer[range.lowerBound + 7],
              (48...57).contains(major), (48...57).contains(minor)
        else { throw .badRequest("bad_version", "The HTTP version is malformed.") }
        guard major == 49, minor == 48 || minor == 49 else {
            throw HTTPError(status: 505, code: "version_not_supported", message: "Only HTTP/1.0 and HTTP/1.1 are supported.")
        }
        return minor == 49 ? .http1_1 : .http1_0
    }

    private mutating func splitTarget(_ range: Range<Int>) throws(HTTPError) {
        var pathStart = range.lowerBound
        let first = buffer[pathStart]
        if first == UInt8(ascii: "*") && range.count == 1 {
            guard head.method == "OPTIONS" else { throw .badRequest("bad_target", "'*' is only valid for OPTIONS.") }
            head.path = "*"
            head.query = ""
            return
        }
        if first != UInt8(ascii: "/") {
            // Absolute form: scheme "://" authority path.
            let target = string(range)
            let lower = target.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
                throw .badRequest("bad_target", "The request target must start with '/'.")
            }
            let afterScheme = range.lowerBound + (lower.hasPrefix("http://") ? 7 : 8)
            pathStart = buffer[afterScheme..<range.upperBound].firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") })
                ?? range.upperBound
        }
        let queryMark = buffer[pathStart..<range.upperBound].firstIndex(of: UInt8(ascii: "?")) ?? range.upperBound
        let rawPath = pathStart == queryMark ? [UInt8(ascii: "/")] : Array(buffer[pathStart..<queryMark])
        guard let path = PercentDecoding.decodePath(rawPath) else {
            throw .badRequest("bad_path", "The path has a malformed escape, a NUL byte or invalid UTF-8.")
        }
        head.path = path
        head.query = queryMark < range.upperBound ? string((queryMark + 1)..<range.upperBound) : ""
    }

    // MARK: Header fields

    private mutating func parseField(_ line: Line, fieldCount: Int, isTrailer: Bool) throws(HTTPError) -> (name: String, value: String) {
        let first = buffer[line.start]
        if first == ASCII.space || first == ASCII.tab {
            throw .badRequest("obs_fold", "Folded header lines (obs-fold) are not accepted.")
        }
        var index = line.start
        while index < line.end && buffer[index] != ASCII.colon {
            let byte = buffer[index]
            if byte == ASCII.space || byte == ASCII.tab {
                throw .badRequest("space_before_colon", "Whitespace between a header name and its colon.")
            }
            if !ASCII.isTokenByte[Int(byte)] { throw .badRequest("bad_header_name", "A header name has an invalid character.") }
            index += 1
        }
        guard index < line.end, index > line.start else {
            throw .badRequest("bad_header", "A header line has no name or no colon.")
        }
        let nameRange = line.start..<index
        var valueStart = index + 1
        var valueEnd = line.end
        while valueStart < valueEnd && (buffer[valueStart] == ASCII.space || buffer[valueStart] == ASCII.tab) { valueStart += 1 }
        while valueEnd > valueStart && (buffer[valueEnd - 1] == ASCII.space || buffer[valueEnd - 1] == ASCII.tab) { valueEnd -= 1 }
        for position in valueStart..<valueEnd {
            let byte = buffer[position]
            if (byte < 0x20 && byte != ASCII.tab) || byte == 0x7F {
                throw .badRequest("bad_header_value", "A header value contains a control character.")
            }
        }
        if fieldCount >= limits.maxHeaderCount {
            throw HTTPError(status: 431, code: "too_many_headers", message: "More than \(limits.maxHeaderCount) header fields.")
        }
        let name = string(nameRange)
        let value = string(valueStart..<valueEnd)
        if !isTrailer { try interpret(nameRange, value: value) }
        return (name, value)
    }

    private static let contentLength = Array("content-length".utf8)
    private static let transferEncoding = Array("transfer-encoding".utf8)
    private static let connection = Array("connection".utf8)
    private static let host = Array("host".utf8)
    private static let expect = Array("expect".utf8)

    private func nameIs(_ range: Range<Int>, _ lowercased: [UInt8]) -> Bool {
        guard range.count == lowercased.count else { return false }
        var other = 0
        for index in range {
            if ASCII.lowercase(buffer[index]) != lowercased[other] { return false }
            other += 1
        }
        return true
    }

    /// Records the fields that decide framing and connection handling.
    private mutating func interpret(_ name: Range<Int>, value: String) throws(HTTPError) {
        switch name.count {
        case 14 where nameIs(name, Self.contentLength):
            let length = try Self.parseContentLength(value)
            if let previous = head.contentLength, previous != length {
                throw .badRequest("conflicting_content_length", "Two different Content-Length values.")
            }
            head.contentLength = length
        case 17 where nameIs(name, Self.transferEncoding):
            guard !head.isChunked, HTTPHeaders.equalNames(value, "chunked") else {
                throw HTTPError(status: 400, code: "unsupported_transfer_encoding",
                                message: "Only 'Transfer-Encoding: chunked' is accepted.")
            }
            head.isChunked = true
        case 10 where nameIs(name, Self.connection):
            if HTTPHeaders.listContains(value, token: "close") { head.connectionClose = true }
            if HTTPHeaders.listContains(value, token: "keep-alive") { head.connectionKeepAlive = true }
        case 4 where nameIs(name, Self.host):
            if head.hasHost { throw .badRequest("duplicate_host", "More than one Host header.") }
            head.hasHost = true
        case 6 where nameIs(name, Self.expect):
            head.expectation = value
        default:
            break
        }
    }

    /// A Content-Length value: digits only; a list is accepted only when all its members are equal.
    static func parseContentLength(_ value: String) throws(HTTPError) -> Int64 {
        let bad = HTTPError.badRequest("bad_content_length", "The Content-Length is not a valid number.")
        var result: Int64?
        for member in value.split(separator: ",", omittingEmptySubsequences: false) {
            let digits = member.trimmingASCIISpaces()
            guard !digits.isEmpty else { throw bad }
            var number: Int64 = 0
            for byte in digits.utf8 {
                guard byte >= 48 && byte <= 57 else { throw bad }
                let (times, overflow1) = number.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - 48))
                if overflow1 || overflow2 { throw bad }
                number = sum
            }
            if let result, result != number {
                throw .badRequest("conflicting_content_length", "The Content-Length lists different values.")
            }
            result = number
        }
        guard let result else { throw bad }
        return result
    }

    private mutating func finishHead() throws(HTTPError) -> HTTPRequestHead {
        if head.isChunked && head.contentLength != nil {
            throw .badRequest("content_length_with_transfer_encoding",
                              "Content-Length and Transfer-Encoding together are ambiguous.")
        }
        if head.version == .http1_1 && !head.hasHost {
            throw .badRequest("missing_host", "HTTP/1.1 requests must carry a Host header.")
        }
        if head.version == .http1_0 && head.isChunked {
            throw .badRequest("unsupported_transfer_encoding", "Chunked bodies need HTTP/1.1.")
        }
        let keepAlive = head.version == .http1_1 ? !head.connectionClose : (head.connectionKeepAlive && !head.connectionClose)
        if head.isChunked {
            state = .chunkSize
        } else if let length = head.contentLength, length > 0 {
            state = .fixedBody(remaining: length)
        } else {
            state = .endPending
        }
        return HTTPRequestHead(method: head.method, target: head.target, path: head.path, query: head.query,
                               version: head.version, headers: head.headers, keepAlive: keepAlive,
                               contentLength: head.contentLength, isChunked: head.isChunked, expectation: head.expectation)
    }

    // MARK: Chunked coding

    private static let badChunk = HTTPError.badRequest("bad_chunk", "A chunk size line is malformed or too large.")
    private static let uriTooLong = HTTPError(status: 414, code: "uri_too_long", message: "The request line is too long.")
    private static let headersTooLarge = HTTPError(status: 431, code: "headers_too_large",
                                                   message: "The header section is too large.")

    private func parseChunkSize(_ line: Line) throws(HTTPError) -> Int64 {
        var index = line.start
        var size: Int64 = 0
        while index < line.end, let digit = ASCII.hexValue(buffer[index]) {
            if size > (Int64.max >> 4) { throw Self.badChunk }
            size = size << 4 | Int64(digit)
            index += 1
        }
        guard index > line.start else { throw Self.badChunk }
        while index < line.end && (buffer[index] == ASCII.space || buffer[index] == ASCII.tab) { index += 1 }
        if index < line.end {
            guard buffer[index] == UInt8(ascii: ";") else { throw Self.badChunk }
            for position in index..<line.end {
                let byte = buffer[position]
                if (byte < 0x20 && byte != ASCII.tab) || byte == 0x7F { throw Self.badChunk }
            }
        }
        return size
    }
}

/// The parts of the request head gathered while its lines arrive.
private struct HeadBuilder {
    var method = ""
    var target = ""
    var path = ""
    var query = ""
    var version = HTTPVersion.http1_1
    var headers = HTTPHeaders()
    var trailers = HTTPHeaders()
    var headerBytes = 0
    var trailerBytes = 0
    var bodyBytes: Int64 = 0
    var contentLength: Int64?
    var isChunked = false
    var connectionClose = false
    var connectionKeepAlive = false
    var hasHost = false
    var expectation: String?
    var emptyLinesSkipped = 0
}
