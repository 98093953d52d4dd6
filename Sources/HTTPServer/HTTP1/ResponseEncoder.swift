import Glibc
import Support

/// Writes response heads as bytes, with a Date header rebuilt at most once per second.
/// One per event loop: not shared between threads.
struct ResponseEncoder {
    /// `Server` and the configured common headers, encoded once.
    private let serverLine: [UInt8]
    private var dateLine: [UInt8] = []
    private var dateSecond = -1

    init(serverName: String, commonHeaders: HTTPHeaders = HTTPHeaders()) {
        var line = Array("Server: \(serverName)\r\n".utf8)
        for (name, value) in commonHeaders { line += Array("\(name): \(value)\r\n".utf8) }
        serverLine = line
        refreshDate()
    }

    /// Rebuilds the Date line when the wall-clock second has changed.
    mutating func refreshDate() {
        var now = time_t()
        time(&now)
        let second = Int(now)
        if second == dateSecond { return }
        dateSecond = second
        var parts = tm()
        gmtime_r(&now, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let text = "Date: \(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) "
            + "\(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT\r\n"
        dateLine = Array(text.utf8)
    }

    /// Whether a response with this status carries no body at all (not even a Content-Length of it).
    static func statusHasNoBody(_ status: Int) -> Bool {
        status == 204 || status == 304 || (status >= 100 && status < 200)
    }

    /// Appends the status line and headers. `Content-Length`, `Transfer-Encoding` and `Connection`
    /// set by the handler are replaced by the server's own.
    func appendHead(_ response: HTTPResponse, version: HTTPVersion, keepAlive: Bool, requestID: String? = nil,
                    to out: inout [UInt8]) {
        out.append(contentsOf: version == .http1_0 ? Self.http10 : Self.http11)
        Self.appendDecimal(response.status, to: &out)
        out.append(ASCII.space)
        out.append(contentsOf: Self.reason(response.status).utf8)
        out.append(contentsOf: Self.crlf)
        out.append(contentsOf: serverLine)
        out.append(contentsOf: dateLine)
        for (name, value) in response.headers {
            if HTTPHeaders.equalNames(name, "Content-Length") || HTTPHeaders.equalNames(name, "Transfer-Encoding")
                || HTTPHeaders.equalNames(name, "Connection") { continue }
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: Self.colonSpace)
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: Self.crlf)
        }
        if let requestID {
            out.append(contentsOf: Self.requestIDName)
            out.append(contentsOf: requestID.utf8)
            out.append(contentsOf: Self.crlf)
        }
        if !Self.statusHasNoBody(response.status) {
            out.append(contentsOf: Self.contentLength)
            Self.appendDecimal(response.body.count, to: &out)
            out.append(contentsOf: Self.crlf)
        }
        if !keepAlive {
            out.append(contentsOf: Self.connectionClose)
        } else if version == .http1_0 {
            out.append(contentsOf: Self.connectionKeepAlive)
        }
        out.append(contentsOf: Self.crlf)
    }

    static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    private static let requestIDName = Array("X-Request-Id: ".utf8)
    private static let http11 = Array("HTTP/1.1 ".utf8)
    private static let http10 = Array("HTTP/1.0 ".utf8)
    private static let crlf: [UInt8] = [13, 10]
    private static let colonSpace: [UInt8] = [58, 32]
    private static let contentLength = Array("Content-Length: ".utf8)
    private static let connectionClose = Array("Connection: close\r\n".utf8)
    private static let connectionKeepAlive = Array("Connection: keep-alive\r\n".utf8)

    /// Appends a non-negative integer in decimal, without allocating.
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 10 {
            out.append(UInt8(48 + max(0, value)))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[19 - count] = UInt8(48 + rest % 10)
                rest /= 10
                count += 1
            }
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }

    /// The standard reason phrase of a status code.
    static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 206: return "Partial Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 303: return "See Other"
        case 304: return "Not Modified"
        case 307: return "Temporary Redirect"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 421: return "Misdirected Request"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }
}

/// Access log lines gathered during one loop iteration and written with a single write(1, …).
struct AccessLog {
    private(set) var pending: [UInt8] = []
    let enabled: Bool
    let format: LogFormat
    private var clock = LogTime()

    init(enabled: Bool, format: LogFormat = .text) {
        self.enabled = enabled
        self.format = format
        if enabled { pending.reserveCapacity(16 << 10) }
    }

    /// Adds `METHOD PATH STATUS BYTES DURATIONms REQUEST-ID`, or its JSON line.
    mutating func record(method: String, path: String, status: Int, bytes: Int, nanoseconds: UInt64, request: ActiveRequest?) {
        guard enabled else { return }
        if format == .json {
            recordJSON(method: method, path: path, status: status, bytes: bytes, nanoseconds: nanoseconds, request: request)
            return
        }
        pending.append(contentsOf: method.utf8)
        pending.append(ASCII.space)
        for byte in path.utf8 { pending.append(byte < 0x21 || byte == 0x7F ? UInt8(ascii: "?") : byte) }
        pending.append(ASCII.space)
        ResponseEncoder.appendDecimal(status, to: &pending)
        pending.append(ASCII.space)
        ResponseEncoder.appendDecimal(bytes, to: &pending)
        pending.append(ASCII.space)
        let hundredths = Int(nanoseconds / 10_000)
        ResponseEncoder.appendDecimal(hundredths / 100, to: &pending)
        pending.append(UInt8(ascii: "."))
        let fraction = hundredths % 100
        if fraction < 10 { pending.append(48) }
        ResponseEncoder.appendDecimal(fraction, to: &pending)
        pending.append(contentsOf: "ms".utf8)
        if let request {
            pending.append(ASCII.space)
            pending.append(contentsOf: request.requestID.utf8)
        }
        pending.append(UInt8(ascii: "\n"))
    }

    /// Cloud Logging's request entry: `httpRequest`, the request id, the trace when given. Written
    /// straight into the buffer (a fixed shape: no writer, no intermediate strings), with the time
    /// rebuilt once a second and its microseconds appended.
    private mutating func recordJSON(method: String, path: String, status: Int, bytes: Int, nanoseconds: UInt64,
                                     request: ActiveRequest?) {
        pending.append(contentsOf: status >= 500 ? Self.severityError : status >= 400 ? Self.severityWarning : Self.severityInfo)
        clock.appendNow(to: &pending)
        pending.append(contentsOf: Self.messageKey)
        JSONWriter.appendEscaped(method, to: &pending)
        pending.append(ASCII.space)
        JSONWriter.appendEscaped(path, to: &pending)
        pending.append(ASCII.space)
        ResponseEncoder.appendDecimal(status, to: &pending)
        pending.append(contentsOf: Self.requestMethodKey)
        JSONWriter.appendEscaped(method, to: &pending)
        pending.append(contentsOf: Self.requestUrlKey)
        JSONWriter.appendEscaped(path, to: &pending)
        pending.append(contentsOf: Self.statusKey)
        ResponseEncoder.appendDecimal(status, to: &pending)
        pending.append(contentsOf: Self.responseSizeKey)
        ResponseEncoder.appendDecimal(bytes, to: &pending)
        pending.append(contentsOf: Self.latencyKey)
        let micros = Int((nanoseconds + 500) / 1000)
        ResponseEncoder.appendDecimal(micros / 1_000_000, to: &pending)
        pending.append(UInt8(ascii: "."))
        Self.appendPadded(micros % 1_000_000, digits: 6, to: &pending)
        pending.append(contentsOf: Self.secondsEnd)
        if let request {
            pending.append(contentsOf: Self.remoteIpKey)
            let peer = request.peer
            ResponseEncoder.appendDecimal(Int(peer >> 24), to: &pending)
            for shift in [16, 8, 0] as [UInt32] {
                pending.append(UInt8(ascii: "."))
                ResponseEncoder.appendDecimal(Int(peer >> shift & 255), to: &pending)
            }
            pending.append(UInt8(ascii: "\""))
            if let agent = request.head.headers["user-agent"] {
                pending.append(contentsOf: Self.userAgentKey)
                JSONWriter.appendEscaped(agent, to: &pending)
                pending.append(UInt8(ascii: "\""))
            }
            pending.append(contentsOf: Self.requestIdKey)
            JSONWriter.appendEscaped(request.requestID, to: &pending)
            pending.append(UInt8(ascii: "\""))
            if let trace = request.traceID {
                let project = ServerLog.traceProject
                if !project.isEmpty {
                    pending.append(contentsOf: Self.traceKey)
                    JSONWriter.appendEscaped("projects/\(project)/traces/\(trace)", to: &pending)
                    pending.append(UInt8(ascii: "\""))
                }
            }
        } else {
            pending.append(UInt8(ascii: "}"))
        }
        pending.append(contentsOf: Self.lineEnd)
    }

    private static func appendPadded(_ value: Int, digits: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<digits { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
            rest %= divisor
            divisor /= 10
        }
    }

    private static let severityInfo = Array(#"{"severity":"INFO","time":""#.utf8)
    private static let severityWarning = Array(#"{"severity":"WARNING","time":""#.utf8)
    private static let severityError = Array(#"{"severity":"ERROR","time":""#.utf8)
    private static let messageKey = Array(#"","message":""#.utf8)
    private static let requestMethodKey = Array(#"","httpRequest":{"requestMethod":""#.utf8)
    private static let requestUrlKey = Array(#"","requestUrl":""#.utf8)
    private static let statusKey = Array(#"","status":"#.utf8)
    private static let responseSizeKey = Array(#","responseSize":""#.utf8)
    private static let latencyKey = Array(#"","latency":""#.utf8)
    private static let secondsEnd = Array(#"s""#.utf8)
    private static let remoteIpKey = Array(#","remoteIp":""#.utf8)
    private static let userAgentKey = Array(#","userAgent":""#.utf8)
    private static let requestIdKey = Array(#"},"requestId":""#.utf8)
    private static let traceKey = Array(#","logging.googleapis.com/trace":""#.utf8)
    private static let lineEnd = Array("}\n".utf8)

    /// Writes the gathered lines to standard output in one call.
    mutating func flush() {
        guard !pending.isEmpty else { return }
        pending.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
        pending.removeAll(keepingCapacity: true)
    }
}

/// The time of a JSON log line (RFC 3339 in UTC with microseconds), its text up to the second
/// rebuilt only when the second changes. One per access log: not shared between threads.
struct LogTime {
    private var second = -1
    private var prefix: [UInt8] = []

    /// Appends `2026-11-29T17:49:51.123456Z` for now.
    mutating func appendNow(to out: inout [UInt8]) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        if now.tv_sec != second {
            second = now.tv_sec
            let text = Clock.isoTimestamp(micros: Int64(now.tv_sec) * 1_000_000)
            prefix = Array(text.utf8.dropLast(7))   // up to and with the point: "…T17:49:51."
        }
        out.append(contentsOf: prefix)
        var micros = now.tv_nsec / 1000
        var digits = [UInt8](repeating: 48, count: 6)
        for index in stride(from: 5, through: 0, by: -1) {
            digits[index] = UInt8(48 + micros % 10)
            micros /= 10
        }
        out.append(contentsOf: digits)
        out.append(UInt8(ascii: "Z"))
    }
}
