// The clocks the portal reads: monotonic for durations and deadlines, real time for records.

import Glibc

/// Clock readings: monotonic ones for durations, deadlines and rates; real time (UTC) for
/// what is recorded and logged.
public enum Clock {
    /// Nanoseconds on the monotonic clock.
    public static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Milliseconds on the coarse monotonic clock (cheap; a few ms resolution).
    public static func coarseMilliseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &time)
        return UInt64(time.tv_sec) * 1000 + UInt64(time.tv_nsec) / 1_000_000
    }

    /// Microseconds since 1970-01-01T00:00:00Z.
    public static func nowMicros() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }

    /// `2026-11-29T17:49:51.123456Z` (RFC 3339 in UTC, as Cloud Logging reads it) for microseconds
    /// since the epoch.
    public static func isoTimestamp(micros: Int64) -> String {
        var seconds = time_t(micros / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let fraction = micros % 1_000_000
        return "\(pad(parts.tm_year + 1900, width: 4))-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T"
            + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec)).\(pad(Int32(fraction), width: 6))Z"
    }

    /// The time now as `isoTimestamp` writes it.
    public static func isoTimestamp() -> String { isoTimestamp(micros: nowMicros()) }

    /// (year, month, day) in UTC for microseconds since the epoch.
    public static func utcDate(micros: Int64) -> (year: Int, month: Int, day: Int) {
        var seconds = time_t(micros / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return (Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
    }

    /// `value` in decimal with leading zeros up to `width` digits.
    public static func pad(_ value: Int32, width: Int = 2) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
