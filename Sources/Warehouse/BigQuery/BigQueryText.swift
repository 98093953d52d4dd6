import ETL

/// The text forms BigQuery reads and writes for this project's values: row keys in hex,
/// NUMERIC as decimal strings, DATE / DATETIME / TIMESTAMP as ISO text. The formats are
/// the ETL's own; this names them as BigQuery uses them.
enum BigQueryText {
    /// 32 lower-case hex digits: `high` then `low`, big-endian.
    static func hex(_ key: RowKey) -> String { key.hex }

    /// `-12.345600`: six places, never a binary float.
    static func decimal(_ value: ExactDecimal) -> String { value.formatted(places: 6) }

    /// Reads NUMERIC text such as `32.750000000`, `-1` or `0.5`; nil for anything else.
    static func parseDecimal(_ text: String?) -> ExactDecimal? {
        guard let text, !text.isEmpty else { return nil }
        return ExactDecimal(parsing: text)
    }

    /// `YYYY-MM-DD` of a day number since 1970-01-01.
    static func date(days: Int64) -> String { LocalDateTime.isoDate(dayNumber: days) }

    /// Reads `YYYY-MM-DD`.
    static func parseDate(_ text: String) -> Int64? { LocalDateTime.parseISODate(text) }

    /// `YYYY-MM-DDTHH:MM:SS`, the DATETIME of a wall-clock time.
    static func dateTime(_ time: LocalDateTime) -> String { time.isoDateTime }

    /// `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, the TIMESTAMP text BigQuery accepts in insertAll.
    static func timestamp(micros: Int64) -> String {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = String(micros - seconds * 1_000_000)
        let time = LocalDateTime(secondsSinceEpoch: seconds)
        return "\(time.isoDate) \(time.isoDateTime.dropFirst(11)).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
    }
}
