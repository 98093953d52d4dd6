// Log lines on standard error and the access log on standard output: plain text for a
// terminal, or JSON lines with the field names Google Cloud Logging reads (`severity`,
// `message`, `time`, `httpRequest`, `logging.googleapis.com/trace`).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Support
import Synchronization

/// How log lines are written.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `message` as it is (the access log: `METHOD PATH STATUS BYTES DURATIONms id`).
    case text
    /// One JSON object per line.
    case json
}

/// How serious a log line is (Cloud Logging's `severity`).
public enum LogSeverity: String, Sendable {
    case debug = "DEBUG", info = "INFO", notice = "NOTICE", warning = "WARNING", error = "ERROR"
}

/// The process's log lines. The format is set once at start, before any thread writes.
public enum ServerLog {
    private static let jsonFormat = Atomic<Bool>(false)
    private static let traceProjectValue = Mutex<String>("")

    /// The format of every line from now on.
    public static var format: LogFormat {
        get { jsonFormat.load(ordering: .relaxed) ? .json : .text }
        set { jsonFormat.store(newValue == .json, ordering: .relaxed) }
    }

    /// The Google Cloud project a request's trace id is given under (`projects/P/traces/T`);
    /// empty: no trace field.
    public static var traceProject: String {
        get { traceProjectValue.withLock { $0 } }
        set { traceProjectValue.withLock { $0 = newValue } }
    }

    /// Writes `message` to standard error (or output) as one line, with the request's id when it has one.
    public static func line(_ message: String, severity: LogSeverity = .info, requestID: String? = nil,
                            toStandardOutput: Bool = false) {
        var bytes: [UInt8] = []
        if format == .json {
            var json = JSONWriter()
            json.beginObject()
            json.field("severity", severity.rawValue)
            json.field("time", Clock.isoTimestamp())
            json.field("message", message)
            if let requestID { json.field("requestId", requestID) }
            json.endObject()
            bytes = json.line()
        } else {
            bytes = textLine(message, requestID: requestID)
        }
        write(fd: toStandardOutput ? 1 : 2, bytes)
    }

    /// `message [id]` on one line: control characters (a line break in a file name) become `?`,
    /// so no text can start a line of its own.
    static func textLine(_ message: String, requestID: String?) -> [UInt8] {
        var bytes = message.utf8.map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: "?") : $0 }
        if let requestID { bytes.append(contentsOf: " [\(requestID)]".utf8) }
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    static func write(fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 {
                    if written < 0 && errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}

/// The id of a request, in the logs and in the answer's `X-Request-Id`.
public enum RequestID {
    /// The client's `X-Request-Id` when it is 1–128 of `A–Z a–z 0–9 . _ : -`; else the trace id
    /// of a W3C `traceparent`; else nil (the server makes one). Also the trace id, when given.
    static func from(_ headers: HTTPHeaders) -> (id: String?, trace: String?) {
        let trace = headers["traceparent"].flatMap { traceID(fromTraceparent: $0[...]) }
        if let given = headers["x-request-id"], isValid(given[...]) { return (given, trace) }
        return (trace, trace)
    }

    static func isValid(_ text: Substring) -> Bool {
        guard (1...128).contains(text.utf8.count) else { return false }
        return text.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-")
        }
    }

    /// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, the trace id not all zeros.
    static func traceID(fromTraceparent value: Substring) -> String? {
        let parts = value.trimmingASCIISpaces().split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].utf8.count == 2, parts[0] != "ff", parts[1].utf8.count == 32,
              parts[2].utf8.count == 16, parts[3].utf8.count == 2 else { return nil }
        func isLowerHex(_ part: Substring) -> Bool {
            part.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
        }
        guard parts[0...3].allSatisfy(isLowerHex), parts[1].contains(where: { $0 != "0" }),
              parts[2].contains(where: { $0 != "0" }) else { return nil }
        return String(parts[1])
    }
}
