import ETL

/// The text forms BigQuery reads and writes for this project's values: row keys in hex,
/// NUMERIC as decimal strings, DATE / DATETIME / TIMESTAMP as ISO text. No Foundation.
enum BigQueryText {
    /// 32 lower-case hex digits: `high` then `low`, big-endian.
    static func hex(_ key: RowKey) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 32)
        for index in 0..<16 {
            out[15 - index] = digits[Int((key.high >> (UInt64(index) * 4)) & 0xF)]
            out[31 - index] = digits[Int((key.low >> (UInt64(index) * 4)) & 0xF)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `-12.345600`: six places, never a binary float.
    static func decimal(_ value: ExactDecimal) -> String {
        let negative = value.micros < 0
        let magnitude = value.micros.magnitude
        let whole = magnitude / 1_000_000
        let fraction = String(magnitude % 1_000_000)
        return (negative ? "-" : "") + "\(whole)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    /// Reads `32.750000000`, `-1`, `0.5`, `1E2` is not accepted. Digits past the sixth place are cut.
    static func parseDecimal(_ text: String?) -> ExactDecimal? {
        guard let text, !text.isEmpty else { return nil }
        var micros: Int64 = 0
        var negative = false
        var fractionDigits = -1
        for (position, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "-") where position == 0: negative = true
            case UInt8(ascii: "+") where position == 0: break
            case UInt8(ascii: "."):
                guard fractionDigits < 0 else { return nil }
                fractionDigits = 0
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if fractionDigits >= 6 { continue }
                let (shifted, overflow1) = micros.multipliedReportingOverflow(by: 10)
                let (added, overflow2) = shifted.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { return nil }
                micros = added
                if fractionDigits >= 0 { fractionDigits += 1 }
            default: return nil
            }
        }
        for _ in 0..<(6 - max(fractionDigits, 0)) { micros *= 10 }
        return ExactDecimal(micros: negative ? -micros : micros)
    }

    /// (year, month, day) of a day number since 1970-01-01 (proleptic Gregorian).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Day number since 1970-01-01 of a civil date.
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// `YYYY-MM-DD`
    static func date(days: Int64) -> String {
        let (year, month, day) = civil(fromDays: days)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// Reads `YYYY-MM-DD`.
    static func parseDate(_ text: String) -> Int64? {
        let parts = text.split(separator: "-")
        guard parts.count == 3, let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]) else { return nil }
        return days(year: y, month: m, day: d)
    }

    /// `YYYY-MM-DDTHH:MM:SS`, the DATETIME of a wall-clock time.
    static func dateTime(_ time: LocalDateTime) -> String {
        let days = time.dayNumber
        let seconds = time.secondsSinceEpoch - days * 86_400
        return "\(date(days: days))T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))"
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, the TIMESTAMP text BigQuery accepts in insertAll.
    static func timestamp(micros: Int64) -> String {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        let base = dateTime(LocalDateTime(secondsSinceEpoch: seconds)).replacingFirstT()
        return "\(base).\(pad(fraction, 6))"
    }

    static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value.magnitude)
        return (value < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - text.count)) + text
    }
}

extension String {
    fileprivate func replacingFirstT() -> String {
        guard let index = firstIndex(of: "T") else { return self }
        var copy = self
        copy.replaceSubrange(index...index, with: " ")
        return copy
    }
}
