import CCurl
import Synchronization

/// The module-wide setup of the C libraries.
public enum GoogleCloud {
    /// Initializes libcurl. Call once at process start, before any thread uses curl
    /// (the executable does it in main; tests call it too). Repeated calls are harmless.
    public static func globalInit() {
        _ = initOnce
    }

    private static let initOnce: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()
}

/// A blocking HTTP/1.1 client on libcurl's easy interface.
///
/// Handles are pooled: a finished handle goes back to the pool and keeps its
/// connections alive for the next request to the same host. Every handle has
/// CURLOPT_NOSIGNAL set (the process runs many threads), a connect timeout, and a
/// low-speed limit that aborts stalled transfers. Call only from worker threads.
public final class CurlHTTPClient: HTTPClient {
    public let settings: HTTPClientSettings
    /// Idle handles. `CURL *` pointers are only ever used by the thread that took them out.
    private let idle: Mutex<[HandleBox]>

    public init(settings: HTTPClientSettings = HTTPClientSettings()) {
        GoogleCloud.globalInit()
        self.settings = settings
        self.idle = Mutex([])
    }

    deinit {
        idle.withLock { handles in
            for box in handles { curl_easy_cleanup(box.handle) }
            handles.removeAll()
        }
    }

    public func perform(_ request: HTTPRequest) throws -> HTTPResponse {
        let box = try takeHandle()
        var reusable = true
        defer {
            if reusable { giveBack(box) } else { curl_easy_cleanup(box.handle) }
        }
        let transfer = Transfer(body: request.body)
        let result = try withExtendedLifetime(transfer) { () throws -> CURLcode in
            try configure(box.handle, request, transfer)
            var headerList: UnsafeMutablePointer<curl_slist>? = nil
            for header in request.headers {
                headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
            }
            // No "Expect: 100-continue" round trip for bodies.
            headerList = curl_slist_append(headerList, "Expect:")
            defer { curl_slist_free_all(headerList) }
            try check(cn_curl_setopt_ptr(box.handle, CURLOPT_HTTPHEADER, headerList), "headers")
            return curl_easy_perform(box.handle)
        }
        guard result == CURLE_OK else {
            reusable = result != CURLE_OUT_OF_MEMORY
            let text = String(cString: curl_easy_strerror(result))
            throw GoogleCloudError.transport(curlCode: Int(result.rawValue), message: text)
        }
        var status = 0
        _ = cn_curl_getinfo_long(box.handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: transfer.finalHeaders(), body: transfer.responseBody)
    }

    private func configure(_ handle: UnsafeMutableRawPointer, _ request: HTTPRequest, _ transfer: Transfer) throws {
        curl_easy_reset(handle)  // keeps live connections, the DNS and TLS session caches
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        try check(cn_curl_setopt_str(handle, CURLOPT_URL, request.url), "url")
        try check(cn_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "nosignal")
        try check(cn_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, settings.connectTimeoutMilliseconds), "connect timeout")
        try check(cn_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, settings.stallBytesPerSecond), "low speed limit")
        try check(cn_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, settings.stallSeconds), "low speed time")
        if settings.totalTimeoutMilliseconds > 0 {
            try check(cn_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, settings.totalTimeoutMilliseconds), "timeout")
        }
        try check(cn_curl_setopt_str(handle, CURLOPT_USERAGENT, settings.userAgent), "user agent")
        try check(cn_curl_set_write_callback(handle, curlWriteBody, context), "write callback")
        try check(cn_curl_set_header_callback(handle, curlHeader, context), "header callback")
        switch request.body {
        case .empty:
            if request.method == "GET" {
                try check(cn_curl_setopt_long(handle, CURLOPT_HTTPGET, 1), "get")
            } else {
                try check(cn_curl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, request.method), "method")
            }
        case .bytes(let bytes):
            // An upload with a known size: curl sends Content-Length and pulls the bytes
            // through the read callback; the method string replaces PUT.
            try check(cn_curl_setopt_long(handle, CURLOPT_UPLOAD, 1), "upload")
            try check(cn_curl_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(bytes.count)), "size")
            try check(cn_curl_set_read_callback(handle, curlReadBody, context), "read callback")
            if request.method != "PUT" {
                try check(cn_curl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, request.method), "method")
            }
        }
    }

    private func check(_ code: CURLcode, _ what: String) throws {
        if code != CURLE_OK {
            throw GoogleCloudError.configuration("curl refused option \(what): \(String(cString: curl_easy_strerror(code)))")
        }
    }

    private func takeHandle() throws -> HandleBox {
        if let box = idle.withLock({ $0.popLast() }) { return box }
        guard let handle = curl_easy_init() else {
            throw GoogleCloudError.configuration("curl_easy_init failed")
        }
        return HandleBox(handle: handle)
    }

    private func giveBack(_ box: HandleBox) {
        let kept = idle.withLock { handles -> Bool in
            guard handles.count < settings.maxPooledHandles else { return false }
            handles.append(box)
            return true
        }
        if !kept { curl_easy_cleanup(box.handle) }
    }
}

/// A `CURL *` moved between threads through the pool.
/// @unchecked Sendable: a handle is used by one thread at a time — the one that took it out of the pool.
private struct HandleBox: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
}

/// The state of one transfer, reached from curl's C callbacks through their context pointer.
/// Used only by the thread running `curl_easy_perform`.
private final class Transfer {
    let requestBody: [UInt8]
    var readOffset = 0
    var responseBody: [UInt8] = []
    /// Header lines of every response seen (interim 1xx ones included); reset on each status line.
    var headers: [(name: String, value: String)] = []

    init(body: RequestBody) {
        if case .bytes(let bytes) = body { requestBody = bytes } else { requestBody = [] }
    }

    func finalHeaders() -> [(name: String, value: String)] { headers }

    func headerLine(_ line: UnsafeRawBufferPointer) {
        var length = line.count
        while length > 0, line[length - 1] == 0x0D || line[length - 1] == 0x0A { length -= 1 }
        // "\r\n" is one Character in Swift: trim the bytes before decoding.
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<length]), as: UTF8.self)
        if text.hasPrefix("HTTP/") {
            headers.removeAll()
            return
        }
        guard let colon = text.firstIndex(of: ":") else { return }
        let name = text[..<colon].lowercased()
        let value = text[text.index(after: colon)...].trimmingSpaces()
        headers.append((name: name, value: value))
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}

private func curlWriteBody(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    if let data, length > 0 {
        transfer.responseBody.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
    }
    return length
}

private func curlHeader(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    if let data, length > 0 {
        transfer.headerLine(UnsafeRawBufferPointer(start: data, count: length))
    }
    return length
}

private func curlReadBody(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context, let buffer else { return cn_curl_readfunc_abort() }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let remaining = transfer.requestBody.count - transfer.readOffset
    let length = min(size * count, remaining)
    if length > 0 {
        transfer.requestBody.withUnsafeBytes { source in
            UnsafeMutableRawPointer(buffer).copyMemory(
                from: source.baseAddress! + transfer.readOffset, byteCount: length)
        }
        transfer.readOffset += length
    }
    return length
}
