// The headers of one multipart part, and the header-parameter syntax that
// Content-Type and Content-Disposition share (RFC 7231 §3.1.1.1, RFC 6266, RFC 5987).

/// The headers of one part, with the Content-Disposition and Content-Type already read out.
public struct MultipartPartHead: Sendable {
    /// Every header line of the part, in order, names as sent.
    public var headers: [(name: String, value: String)]
    /// The `name` parameter of Content-Disposition: the form field's name.
    public var name: String?
    /// The file name the client sent: `filename*` (RFC 5987) when present and
    /// decodable, otherwise `filename`. Nil for a plain form field.
    public var filename: String?
    /// The part's Content-Type, if sent.
    public var contentType: String?

    /// Reads `name`, `filename` and `contentType` out of the header lines.
    public init(headers: [(name: String, value: String)]) {
        self.headers = headers
        self.name = nil
        self.filename = nil
        self.contentType = nil
        if let disposition = header("Content-Disposition") {
            let parsed = MultipartHeaderParameters(disposition)
            name = parsed["name"]
            filename = parsed["filename*"].flatMap(MultipartHeaderParameters.decodeExtendedValue) ?? parsed["filename"]
        }
        contentType = header("Content-Type")
    }

    /// True when the part carries a file (its Content-Disposition names a file).
    public var isFile: Bool { filename != nil }

    /// The value of the first header with this name (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { multipartNameEquals($0.name, name) }?.value
    }
}

extension MultipartParser {
    /// The boundary of a `multipart/…` Content-Type, quoted or bare, with the
    /// parameter name in any case. Nil when the type is not multipart or the
    /// boundary is missing, empty, longer than 70 characters or holds a line break.
    public static func boundary(fromContentType contentType: String) -> String? {
        let parsed = MultipartHeaderParameters(contentType)
        guard parsed.value.lowercased().hasPrefix("multipart/"),
              let boundary = parsed["boundary"]
        else { return nil }
        let bytes = boundary.utf8
        guard (1...70).contains(bytes.count), !bytes.contains(where: { $0 == 0x0D || $0 == 0x0A }) else { return nil }
        return boundary
    }
}

/// `value; key=token; key="quoted \"string\""` split into its parts. Keys are lower-cased.
struct MultipartHeaderParameters {
    /// What comes before the first `;`, trimmed.
    var value: String
    /// The parameters in order.
    var parameters: [(key: String, value: String)]

    init(_ header: String) {
        let bytes = Array(header.utf8)
        var index = 0
        func skipSpaces() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
        }
        func trimmed(_ start: Int, _ end: Int) -> String {
            var start = start, end = end
            while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
            while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
        while index < bytes.count, bytes[index] != UInt8(ascii: ";") { index += 1 }
        value = trimmed(0, index)
        parameters = []
        while index < bytes.count {
            index += 1  // the ';'
            skipSpaces()
            let keyStart = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "="), bytes[index] != UInt8(ascii: ";") { index += 1 }
            let key = trimmed(keyStart, index).lowercased()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else {
                if !key.isEmpty { parameters.append((key, "")) }
                continue
            }
            index += 1
            skipSpaces()
            var parameterValue: String
            if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                index += 1
                var unescaped: [UInt8] = []
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count { index += 1 }
                    unescaped.append(bytes[index])
                    index += 1
                }
                index += 1  // the closing quote, if any
                parameterValue = String(decoding: unescaped, as: UTF8.self)
                while index < bytes.count, bytes[index] != UInt8(ascii: ";") { index += 1 }
            } else {
                let valueStart = index
                while index < bytes.count, bytes[index] != UInt8(ascii: ";") { index += 1 }
                parameterValue = trimmed(valueStart, index)
            }
            if !key.isEmpty { parameters.append((key, parameterValue)) }
        }
    }

    /// The first parameter with this (lower-case) key.
    subscript(key: String) -> String? {
        parameters.first { $0.key == key }?.value
    }

    /// Decodes an RFC 5987 extended value, `charset'language'percent-encoded`.
    /// UTF-8 and ISO-8859-1 are understood; anything else gives nil.
    static func decodeExtendedValue(_ extended: String) -> String? {
        let bytes = Array(extended.utf8)
        guard let firstQuote = bytes.firstIndex(of: UInt8(ascii: "'")),
              let secondQuote = bytes[(firstQuote + 1)...].firstIndex(of: UInt8(ascii: "'"))
        else { return nil }
        let charset = String(decoding: bytes[..<firstQuote], as: UTF8.self).lowercased()
        var decoded: [UInt8] = []
        var index = secondQuote + 1
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
                else { return nil }
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(bytes[index])
                index += 1
            }
        }
        switch charset {
        case "utf-8":
            return String(validating: decoded, as: UTF8.self)
        case "iso-8859-1":
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: decoded.map { Unicode.Scalar($0) })
            return String(scalars)
        default:
            return nil
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// ASCII case-insensitive comparison, for header and parameter names.
func multipartNameEquals(_ lhs: String, _ rhs: String) -> Bool {
    let left = lhs.utf8, right = rhs.utf8
    guard left.count == right.count else { return false }
    for (a, b) in zip(left, right) {
        let lowerA = (a >= 0x41 && a <= 0x5A) ? a | 0x20 : a
        let lowerB = (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
        if lowerA != lowerB { return false }
    }
    return true
}
