// Exact decimals from and to text, without binary floating point.

extension ExactDecimal {
    /// Parses `[+-]digits[.digits]` with at most six places after the point (more are
    /// accepted only when they are zeros). Spaces around the number are ignored. No exponents,
    /// no thousands separators. Nil when malformed or out of range.
    public init?(parsing text: some StringProtocol) {
        guard let value = Array(text.utf8).withUnsafeBufferPointer({ ExactDecimal.parse($0) }) else {
            return nil
        }
        self = value
    }

    /// Parses UTF-8 bytes, as `init?(parsing:)` does for text.
    public init?(parsingBytes bytes: UnsafeBufferPointer<UInt8>) {
        guard let value = ExactDecimal.parse(bytes) else { return nil }
        self = value
    }

    /// The parser behind both initializers.
    static func parse(_ input: UnsafeBufferPointer<UInt8>) -> ExactDecimal? {
        let bytes = ASCII.trimmed(input)
        var i = 0
        let n = bytes.count
        guard n > 0 else { return nil }
        var negative = false
        if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") {
            negative = bytes[0] == UInt8(ascii: "-")
            i = 1
        }
        var whole: Int64 = 0
        var digits = 0
        while i < n, bytes[i] &- 0x30 < 10 {
            let (times, o1) = whole.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(Int64(bytes[i] &- 0x30))
            if o1 || o2 { return nil }
            whole = plus
            digits += 1
            i += 1
        }
        var fraction: Int64 = 0
        var places = 0
        if i < n && bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < n, bytes[i] &- 0x30 < 10 {
                let digit = Int64(bytes[i] &- 0x30)
                if places < 6 {
                    fraction = fraction * 10 + digit
                    places += 1
                } else if digit != 0 {
                    return nil
                }
                digits += 1
                i += 1
            }
        }
        guard i == n, digits > 0 else { return nil }
        while places < 6 {
            fraction *= 10
            places += 1
        }
        let (scaled, o1) = whole.multipliedReportingOverflow(by: ExactDecimal.scale)
        let (total, o2) = scaled.addingReportingOverflow(fraction)
        if o1 || o2 { return nil }
        return ExactDecimal(micros: negative ? -total : total)
    }

    /// The value with `places` digits after the point (0…6), rounded half away from zero:
    /// `1234.50`, `-3.10`. Never scientific notation.
    public func formatted(places: Int) -> String {
        let places = min(max(places, 0), 6)
        var divisor: Int64 = 1
        for _ in 0..<(6 - places) { divisor *= 10 }
        let magnitude = micros.magnitude
        var units = magnitude / UInt64(divisor)
        if magnitude % UInt64(divisor) * 2 >= UInt64(divisor) { units += 1 }
        return Self.render(negative: micros < 0 && units != 0, units: units, places: places)
    }

    static func render(negative: Bool, units: UInt64, places: Int) -> String {
        var power: UInt64 = 1
        for _ in 0..<places { power *= 10 }
        var text = negative ? "-" : ""
        text += String(units / power)
        if places > 0 {
            let fraction = String(units % power)
            text += "." + String(repeating: "0", count: places - fraction.count) + fraction
        }
        return text
    }
}

extension ExactDecimal: CustomStringConvertible {
    /// The exact value with no trailing zeros after the point: `8.5`, `12`, `-0.000001`.
    public var description: String {
        var places = 6
        var units = micros.magnitude
        while places > 0 && units % 10 == 0 {
            units /= 10
            places -= 1
        }
        return Self.render(negative: micros < 0, units: units, places: places)
    }
}

extension RowKey: CustomStringConvertible {
    /// 32 lowercase hex digits: the high half then the low half.
    public var hex: String {
        var out = [UInt8](repeating: 0, count: 32)
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        for k in 0..<16 {
            out[k] = digits[Int((high >> UInt64(60 - 4 * k)) & 0xF)]
            out[16 + k] = digits[Int((low >> UInt64(60 - 4 * k)) & 0xF)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The same as `hex`.
    public var description: String { hex }
}

/// Small byte helpers for ASCII text.
enum ASCII {
    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
    }

    /// Byte-wise equality, eight bytes at a time.
    @inline(__always)
    static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = a.count
        guard n == b.count else { return false }
        guard n > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return true }
        let ra = UnsafeRawPointer(pa), rb = UnsafeRawPointer(pb)
        var i = 0
        while i + 8 <= n {
            if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                return false
            }
            i += 8
        }
        while i < n {
            if pa[i] != pb[i] { return false }
            i += 1
        }
        return true
    }

    /// The bytes without leading and trailing spaces, tabs and line breaks.
    @inline(__always)
    static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard var start = bytes.baseAddress else { return bytes }
        var end = start + bytes.count
        while start < end && isSpace(start.pointee) { start += 1 }
        while end > start && isSpace((end - 1).pointee) { end -= 1 }
        return UnsafeBufferPointer(start: start, count: end - start)
    }
}
