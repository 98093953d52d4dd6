// The one JSON writer: API answers, request bodies for Google's APIs, log lines.

/// Builds JSON text into bytes without Foundation. The caller writes a well-formed sequence
/// (a key before each member's value); commas are added here. Strings are escaped so that the
/// text stays on one line whatever they hold (control characters and DEL as `\u00XX`). Money
/// goes in as strings, never as floats.
public struct JSONWriter: Sendable {
    /// The JSON text so far.
    public private(set) var bytes: [UInt8] = []
    /// Whether a comma must precede the next value at each open level.
    private var needsComma: [Bool] = [false]

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    public mutating func beginObject() { separate(); bytes.append(UInt8(ascii: "{")); needsComma.append(false) }
    public mutating func endObject() { needsComma.removeLast(); bytes.append(UInt8(ascii: "}")) }
    public mutating func beginArray() { separate(); bytes.append(UInt8(ascii: "[")); needsComma.append(false) }
    public mutating func endArray() { needsComma.removeLast(); bytes.append(UInt8(ascii: "]")) }

    /// Writes `"name":`; the value follows.
    public mutating func key(_ name: String) {
        separate()
        Self.appendQuoted(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        needsComma[needsComma.count - 1] = false
    }

    /// A string, or `null` for nil.
    public mutating func value(_ text: String?) {
        separate()
        if let text { Self.appendQuoted(text, to: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
    }

    public mutating func value(_ number: Int64) { separate(); bytes.append(contentsOf: String(number).utf8) }
    public mutating func value(_ number: Int) { value(Int64(number)) }
    public mutating func value(_ flag: Bool) { separate(); bytes.append(contentsOf: (flag ? "true" : "false").utf8) }
    public mutating func null() { separate(); bytes.append(contentsOf: "null".utf8) }
    /// A number already formatted as JSON (e.g. milliseconds with decimals).
    public mutating func rawNumber(_ text: String) { separate(); bytes.append(contentsOf: text.utf8) }
    /// Bytes that already are one JSON value.
    public mutating func raw(_ json: [UInt8]) { separate(); bytes.append(contentsOf: json) }

    /// `"name": value` in one call.
    public mutating func field(_ name: String, _ text: String?) { key(name); value(text) }
    public mutating func field(_ name: String, _ number: Int) { key(name); value(number) }
    public mutating func field(_ name: String, _ number: Int64) { key(name); value(number) }
    public mutating func field(_ name: String, _ flag: Bool) { key(name); value(flag) }
    /// `"name": ["…", …]`.
    public mutating func field(_ name: String, strings: [String]) {
        key(name)
        beginArray()
        for item in strings { value(item) }
        endArray()
    }
    /// `"name": {…}`, its members written by `body`.
    public mutating func object(_ name: String, _ body: (inout JSONWriter) -> Void) {
        key(name)
        beginObject()
        body(&self)
        endObject()
    }

    /// The text followed by a line end (a JSON line).
    public func line() -> [UInt8] { bytes + [UInt8(ascii: "\n")] }

    private mutating func separate() {
        if needsComma[needsComma.count - 1] { bytes.append(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `text` as a quoted JSON string.
    public static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        appendEscaped(text, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// Appends `text` escaped for the inside of a JSON string (no quotes around it).
    public static func appendEscaped(_ text: String, to out: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 0x0A: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20, 0x7F:
                out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
    }

    /// `text` as a quoted JSON string.
    public static func quoted(_ text: String) -> String {
        var out: [UInt8] = []
        appendQuoted(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
