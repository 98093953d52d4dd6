// Invoice dates: the seed's M/D/YYYY H:MM, its 2-digit-year and seconds variants, and ISO 8601.

/// Parses the date and time forms of sales files into wall-clock seconds.
///
/// Accepted:
/// - `M/D/YYYY H:MM`, `M/D/YYYY H:MM:SS`, `M/D/YYYY` (day first for DMY regions), with an
///   optional ` AM`/` PM` after the time (then the hour is 1…12);
/// - 2-digit years in that form: 00–69 are 2000–2069, 70–99 are 1970–1999;
/// - ISO 8601: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` (or a space for `T`), with an optional
///   `Z` or `±HH:MM` suffix that is ignored: the wall time is kept as written.
///
/// Impossible dates (month 13, 30 February, hour 25, minute 60) are refused, never adjusted.
enum DateParser {
    /// Seconds since 1970-01-01T00:00:00 of the same wall clock, or nil.
    static func parse(_ input: UnsafeBufferPointer<UInt8>, order: DateOrder) -> Int64? {
        let text = ASCII.trimmed(input)
        guard text.count >= 6, let base = text.baseAddress else { return nil }
        var cursor = Cursor(base: base, end: base + text.count)
        guard let (first, firstDigits) = cursor.number(maxDigits: 4) else { return nil }
        if firstDigits == 4 && cursor.peek == UInt8(ascii: "-") {
            return parseISO(year: first, &cursor)
        }
        guard firstDigits <= 2, cursor.take(UInt8(ascii: "/")),
              let (second, secondDigits) = cursor.number(maxDigits: 2), secondDigits > 0,
              cursor.take(UInt8(ascii: "/")),
              let (yearText, yearDigits) = cursor.number(maxDigits: 4), yearDigits == 2 || yearDigits == 4
        else { return nil }
        let year = yearDigits == 2 ? (yearText < 70 ? 2000 + yearText : 1900 + yearText) : yearText
        let (month, day) = order == .mdy ? (first, second) : (second, first)
        guard let days = dayNumber(year: year, month: month, day: day) else { return nil }
        if cursor.atEnd { return days * 86_400 }
        guard cursor.skipSpaces() > 0 || cursor.take(UInt8(ascii: "T")),
              let seconds = parseTime(&cursor, allowMeridiem: true, allowOffset: false), cursor.atEnd
        else { return nil }
        return days * 86_400 + seconds
    }

    private static func parseISO(year: Int64, _ cursor: inout Cursor) -> Int64? {
        guard cursor.take(UInt8(ascii: "-")),
              let (month, monthDigits) = cursor.number(maxDigits: 2), monthDigits == 2,
              cursor.take(UInt8(ascii: "-")),
              let (day, dayDigits) = cursor.number(maxDigits: 2), dayDigits == 2,
              let days = dayNumber(year: year, month: month, day: day)
        else { return nil }
        if cursor.atEnd { return days * 86_400 }
        guard cursor.take(UInt8(ascii: "T")) || cursor.skipSpaces() > 0,
              let seconds = parseTime(&cursor, allowMeridiem: false, allowOffset: true), cursor.atEnd
        else { return nil }
        return days * 86_400 + seconds
    }

    /// `H:MM[:SS[.fff]]`, then an optional AM/PM or time-zone suffix.
    private static func parseTime(_ cursor: inout Cursor, allowMeridiem: Bool, allowOffset: Bool) -> Int64? {
        guard let (hour, hourDigits) = cursor.number(maxDigits: 2), hourDigits > 0,
              cursor.take(UInt8(ascii: ":")),
              let (minute, minuteDigits) = cursor.number(maxDigits: 2), minuteDigits == 2
        else { return nil }
        var second: Int64 = 0
        if cursor.take(UInt8(ascii: ":")) {
            guard let (s, secondDigits) = cursor.number(maxDigits: 2), secondDigits == 2 else { return nil }
            second = s
            if cursor.take(UInt8(ascii: ".")) || cursor.take(UInt8(ascii: ",")) {
                guard cursor.skipDigits() > 0 else { return nil }
            }
        }
        var hour24 = hour
        if allowMeridiem {
            let spaces = cursor.skipSpaces()
            if let pm = cursor.meridiem() {
                guard hour >= 1 && hour <= 12 else { return nil }
                hour24 = hour % 12 + (pm ? 12 : 0)
            } else if spaces > 0 {
                return nil
            }
        }
        if allowOffset && !cursor.atEnd {
            if cursor.take(UInt8(ascii: "Z")) || cursor.take(UInt8(ascii: "z")) {
                // UTC designator: the wall time as written is kept.
            } else if cursor.take(UInt8(ascii: "+")) || cursor.take(UInt8(ascii: "-")) {
                guard let (oh, ohDigits) = cursor.number(maxDigits: 2), ohDigits == 2, oh <= 23 else { return nil }
                _ = cursor.take(UInt8(ascii: ":"))
                if !cursor.atEnd {
                    guard let (om, omDigits) = cursor.number(maxDigits: 2), omDigits == 2, om <= 59 else { return nil }
                }
            } else {
                return nil
            }
        }
        guard hour24 <= 23, minute <= 59, second <= 59 else { return nil }
        return hour24 * 3600 + minute * 60 + second
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date, or nil when it does not exist.
    static func dayNumber(year: Int64, month: Int64, day: Int64) -> Int64? {
        guard year >= 1 && year <= 9999, month >= 1 && month <= 12, day >= 1,
              day <= daysInMonth(year: year, month: month)
        else { return nil }
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Year, month, day of a day number (Hinnant's civil_from_days).
    static func civil(fromDay days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// A read position in a byte string.
private struct Cursor {
    var position: UnsafePointer<UInt8>
    let end: UnsafePointer<UInt8>

    init(base: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>) {
        position = base
        self.end = end
    }

    var atEnd: Bool { position == end }
    var peek: UInt8? { position < end ? position.pointee : nil }

    mutating func take(_ byte: UInt8) -> Bool {
        guard position < end, position.pointee == byte else { return false }
        position += 1
        return true
    }

    /// Up to `maxDigits` decimal digits (a longer run is left for the next read, where it fails
    /// the form); nil when there are none.
    mutating func number(maxDigits: Int) -> (Int64, Int)? {
        var value: Int64 = 0
        var count = 0
        while count < maxDigits, position < end, position.pointee &- 0x30 < 10 {
            value = value * 10 + Int64(position.pointee &- 0x30)
            count += 1
            position += 1
        }
        return count == 0 ? nil : (value, count)
    }

    mutating func skipDigits() -> Int {
        var count = 0
        while position < end, position.pointee &- 0x30 < 10 {
            position += 1
            count += 1
        }
        return count
    }

    mutating func skipSpaces() -> Int {
        var count = 0
        while position < end, position.pointee == 0x20 {
            position += 1
            count += 1
        }
        return count
    }

    /// `AM`/`PM` in any case: true for PM; nil (and nothing consumed) otherwise.
    mutating func meridiem() -> Bool? {
        guard end - position >= 2, position[1] | 0x20 == UInt8(ascii: "m") else { return nil }
        let letter = position[0] | 0x20
        guard letter == UInt8(ascii: "a") || letter == UInt8(ascii: "p") else { return nil }
        position += 2
        return letter == UInt8(ascii: "p")
    }
}

extension LocalDateTime {
    /// `2010-12-01T08:26:00`.
    public var isoDateTime: String {
        let seconds = secondsSinceEpoch - dayNumber * 86_400
        return isoDate + "T" + Self.twoDigits(seconds / 3600) + ":" + Self.twoDigits(seconds / 60 % 60) + ":"
            + Self.twoDigits(seconds % 60)
    }

    /// `2010-12-01`.
    public var isoDate: String { Self.isoDate(dayNumber: dayNumber) }

    /// `YYYY-MM-DD` of a day number (days since 1970-01-01).
    public static func isoDate(dayNumber: Int64) -> String {
        let (year, month, day) = DateParser.civil(fromDay: dayNumber)
        let yearText = String(year)
        return String(repeating: "0", count: max(0, 4 - yearText.count)) + yearText + "-" + twoDigits(month) + "-"
            + twoDigits(day)
    }

    /// The day number of a `YYYY-MM-DD` date, or nil when malformed or impossible.
    public static func parseISODate(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for k in range {
                guard bytes[k] &- 0x30 < 10 else { return nil }
                value = value * 10 + Int64(bytes[k] &- 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
        return DateParser.dayNumber(year: year, month: month, day: day)
    }

    /// Parses an invoice date as a file of the given region writes it (see the accepted forms
    /// in the module's documentation); nil when it is not a real date and time.
    public init?(parsing text: String, order: DateOrder = .mdy) {
        guard let seconds = Array(text.utf8).withUnsafeBufferPointer({ DateParser.parse($0, order: order) })
        else { return nil }
        self.init(secondsSinceEpoch: seconds)
    }

    private static func twoDigits(_ value: Int64) -> String {
        value < 10 ? "0" + String(value) : String(value)
    }
}

extension LocalDateTime {
    /// Months since January 1970 (January 1970 = 0, December 1969 = −1).
    public var monthNumber: Int64 { Self.monthNumber(dayNumber: dayNumber) }

    /// Months since January 1970 of a day number.
    public static func monthNumber(dayNumber: Int64) -> Int64 {
        let (year, month, _) = DateParser.civil(fromDay: dayNumber)
        return (year - 1970) * 12 + (month - 1)
    }
}

extension LocalDateTime {
    /// The civil date and time: year, month, day, hour, minute, second.
    public var components: (year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64) {
        let (year, month, day) = DateParser.civil(fromDay: dayNumber)
        let seconds = secondsSinceEpoch - dayNumber * 86_400
        return (year, month, day, seconds / 3600, seconds / 60 % 60, seconds % 60)
    }
}
