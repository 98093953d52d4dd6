// The settings, errors and events of the streaming multipart/form-data parser.

/// Limits that keep a hostile or broken multipart body from using unbounded memory.
public struct MultipartLimits: Sendable, Equatable {
    /// The most bytes the header block of one part may take, blank line included.
    public var maxPartHeaderBytes: Int
    /// The most parts one body may hold.
    public var maxParts: Int
    /// The most body bytes of a part that is not a file (no `filename` in its
    /// Content-Disposition): a form field, which callers keep in memory.
    public var maxFieldValueBytes: Int

    public init(maxPartHeaderBytes: Int = 16384, maxParts: Int = 100, maxFieldValueBytes: Int = 65536) {
        self.maxPartHeaderBytes = maxPartHeaderBytes
        self.maxParts = maxParts
        self.maxFieldValueBytes = maxFieldValueBytes
    }
}

/// Why a multipart body could not be parsed. Each case has a stable `code` and a human `message`.
public enum MultipartError: Error, Sendable, Equatable {
    /// The Content-Type has no usable `boundary` parameter.
    case missingBoundary
    /// A part's header block is not `name: value` lines ended by a blank line.
    case malformedPartHeaders(String)
    /// Something other than padding and a line end follows a boundary.
    case malformedBoundaryLine
    /// A part's header block is longer than the limit.
    case partHeadersTooLong(limit: Int)
    /// The body holds more parts than the limit.
    case tooManyParts(limit: Int)
    /// A form field (a part without a file name) is longer than the limit.
    case fieldValueTooLong(name: String?, limit: Int)
    /// The body ended before the closing boundary.
    case truncated

    /// A stable machine-readable code.
    public var code: String {
        switch self {
        case .missingBoundary: "missing_boundary"
        case .malformedPartHeaders: "malformed_part_headers"
        case .malformedBoundaryLine: "malformed_boundary_line"
        case .partHeadersTooLong: "part_headers_too_long"
        case .tooManyParts: "too_many_parts"
        case .fieldValueTooLong: "field_value_too_long"
        case .truncated: "truncated"
        }
    }

    /// A sentence for people.
    public var message: String {
        switch self {
        case .missingBoundary:
            "the Content-Type has no multipart boundary parameter (1 to 70 characters)"
        case .malformedPartHeaders(let detail):
            "a part's headers are malformed: \(detail)"
        case .malformedBoundaryLine:
            "unexpected bytes after a multipart boundary"
        case .partHeadersTooLong(let limit):
            "a part's headers are longer than \(limit) bytes"
        case .tooManyParts(let limit):
            "the form has more than \(limit) parts"
        case .fieldValueTooLong(let name, let limit):
            "the form field \(name.map { "'\($0)'" } ?? "without a name") is longer than \(limit) bytes"
        case .truncated:
            "the multipart body ended before its closing boundary"
        }
    }
}

/// What the parser found next in the body.
public enum MultipartEvent: Sendable {
    /// A new part starts; its headers are complete.
    case partBegin(MultipartPartHead)
    /// Bytes of the current part's body, in order. The slice shares the
    /// parser's buffer: drop it before the next `append` to avoid a copy.
    case body(ArraySlice<UInt8>)
    /// The current part's body is complete.
    case partEnd
    /// The closing boundary was read; anything after it is ignored.
    case end
}
