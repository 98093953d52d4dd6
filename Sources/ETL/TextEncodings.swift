// UTF-8 validation across chunks, and Windows-1252 decoding.

/// Checks that a stream of bytes is valid UTF-8 (no overlong forms, no surrogates, nothing
/// above U+10FFFF), fed in chunks that may split a sequence anywhere.
public struct UTF8Validator: Sendable {
    /// Continuation bytes still expected by the open sequence.
    private var pending = 0
    /// Bounds of the next continuation byte (they narrow after some lead bytes).
    private var low: UInt8 = 0x80
    private var high: UInt8 = 0xBF
    private var invalid = false

    /// A validator that has seen no bytes.
    public init() {}

    /// True while every byte fed so far is valid (an open sequence is not yet an error).
    public var isValidSoFar: Bool { !invalid }

    /// Checks more bytes.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer) {
        guard !invalid, let base = chunk.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        let count = chunk.count
        var i = 0
        while i < count {
            if pending == 0 {
                // ASCII run, eight bytes at a time where aligned reads allow.
                while i + 8 <= count {
                    let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    i += 8
                }
                guard i < count else { return }
                let byte = base[i]
                i += 1
                switch byte {
                case 0x00...0x7F: continue
                case 0xC2...0xDF: pending = 1; low = 0x80; high = 0xBF
                case 0xE0: pending = 2; low = 0xA0; high = 0xBF
                case 0xE1...0xEC, 0xEE...0xEF: pending = 2; low = 0x80; high = 0xBF
                case 0xED: pending = 2; low = 0x80; high = 0x9F
                case 0xF0: pending = 3; low = 0x90; high = 0xBF
                case 0xF1...0xF3: pending = 3; low = 0x80; high = 0xBF
                case 0xF4: pending = 3; low = 0x80; high = 0x8F
                default: invalid = true; return
                }
            } else {
                let byte = base[i]
                i += 1
                guard byte >= low && byte <= high else { invalid = true; return }
                pending -= 1
                low = 0x80
                high = 0xBF
            }
        }
    }

    /// True when all bytes fed were valid UTF-8 and no sequence is left open.
    public func finish() -> Bool { !invalid && pending == 0 }
}

/// The Windows-1252 code page: bytes to Unicode scalars.
enum Windows1252 {
    /// Unicode scalars of 0x80…0x9F; the five bytes Windows leaves undefined map to the C1
    /// control of the same number, as the WHATWG encoding standard does.
    static let high: [UInt32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
        0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
    ]

    /// The scalar for one byte.
    @inline(__always)
    static func scalar(_ byte: UInt8) -> UInt32 {
        (byte >= 0x80 && byte <= 0x9F) ? high[Int(byte - 0x80)] : UInt32(byte)
    }

    /// Writes the UTF-8 form of `source` to `output` (room for 3 bytes per input byte);
    /// returns the count written.
    static func decode(_ source: UnsafeBufferPointer<UInt8>, into output: UnsafeMutablePointer<UInt8>) -> Int {
        var n = 0
        for byte in source {
            if byte < 0x80 {
                output[n] = byte
                n += 1
                continue
            }
            let value = scalar(byte)
            if value < 0x800 {
                output[n] = UInt8(0xC0 | (value >> 6))
                output[n + 1] = UInt8(0x80 | (value & 0x3F))
                n += 2
            } else {
                output[n] = UInt8(0xE0 | (value >> 12))
                output[n + 1] = UInt8(0x80 | ((value >> 6) & 0x3F))
                output[n + 2] = UInt8(0x80 | (value & 0x3F))
                n += 3
            }
        }
        return n
    }

    /// Decodes a whole byte string (header names, rejected fields).
    static func string(_ source: UnsafeBufferPointer<UInt8>) -> String {
        if source.isEmpty { return "" }
        return String(unsafeUninitializedCapacity: source.count * 3) { buffer in
            decode(source, into: buffer.baseAddress!)
        }
    }
}
