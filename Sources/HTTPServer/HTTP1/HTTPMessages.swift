/// An HTTP protocol version; the server speaks 1.0 and 1.1.
import Support

public struct HTTPVersion: Sendable, Equatable, CustomStringConvertible {
    /// Major version number.
    public var major: Int
    /// Minor version number.
    public var minor: Int

    /// A version from its two numbers.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// HTTP/1.0: keep-alive only when the client asks for it.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// HTTP/1.1: keep-alive unless the client asks to close.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    /// "HTTP/1.1" and the like.
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// The request line and header section of a request.
public struct HTTPRequestHead: Sendable {
    /// Request method as sent (methods are case-sensitive): "GET", "POST", …
    public var method: String
    /// Request target exactly as sent, e.g. "/api/uploads?limit=10".
    public var target: String
    /// Percent-decoded path of the target, without the query.
    public var path: String
    /// The path of the target as sent (still percent-encoded), without the query.
    public var rawPath: Substring {
        // By byte: a combining mark after "?" would hide it from a Character search.
        let end = target.utf8.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
        return target[..<end]
    }
    /// Raw query string (after "?"), without the "?"; empty when absent.
    public var query: String
    /// Protocol version of the request.
    public var version: HTTPVersion
    /// Header fields in received order.
    public var headers: HTTPHeaders
    /// Whether the connection stays open after this request (HTTP/1.1 unless "close"; HTTP/1.0 only with "keep-alive").
    public var keepAlive: Bool
    /// Declared Content-Length, if any.
    public var contentLength: Int64?
    /// Whether the body uses chunked transfer coding.
    public var isChunked: Bool
    /// Value of the Expect header, if any.
    public var expectation: String?

    /// A head built by hand (tests, internal requests).
    public init(method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = HTTPHeaders(),
                keepAlive: Bool = true, contentLength: Int64? = nil, isChunked: Bool = false, expectation: String? = nil) {
        self.method = method
        self.target = target
        // Split by byte: a combining mark after "?" would hide it from a Character split.
        let mark = target.utf8.firstIndex(of: UInt8(ascii: "?"))
        let rawPath = String(target[..<(mark ?? target.endIndex)])
        self.path = PercentDecoding.decodePath(Array(rawPath.utf8)) ?? rawPath
        self.query = mark.map { String(target[target.utf8.index(after: $0)...]) } ?? ""
        self.version = version
        self.headers = headers
        self.keepAlive = keepAlive
        self.contentLength = contentLength
        self.isChunked = isChunked
        self.expectation = expectation
    }

    init(method: String, target: String, path: String, query: String, version: HTTPVersion, headers: HTTPHeaders,
         keepAlive: Bool, contentLength: Int64?, isChunked: Bool, expectation: String?) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.keepAlive = keepAlive
        self.contentLength = contentLength
        self.isChunked = isChunked
        self.expectation = expectation
    }

    /// Whether the request carries a body (a positive Content-Length or a chunked body).
    public var hasBody: Bool { isChunked || (contentLength ?? 0) > 0 }

    /// The name of the first query parameter whose name or value does not decode (a malformed
    /// %XX escape, an escaped NUL, or bytes that are not UTF-8); nil when every one decodes.
    public var undecodableQueryParameter: String? {
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = PercentDecoding.decodeForm(parts[0])
            if name == nil || (parts.count > 1 && PercentDecoding.decodeForm(parts[1]) == nil) {
                return name ?? String(parts[0])
            }
        }
        return nil
    }

    /// The name of the first query parameter given more than once (names compared decoded); nil
    /// when each is given once. Which of two values counts is not a guess the server makes.
    public var repeatedQueryParameter: String? {
        var seen = Set<String>()
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let rawName = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let name = PercentDecoding.decodeForm(rawName) ?? String(rawName)
            if !seen.insert(name).inserted { return name }
        }
        return nil
    }

    /// The first value of a query parameter, form-decoded ("+" is a space, %XX escapes), or nil.
    public func queryValue(_ name: String) -> String? {
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = PercentDecoding.decodeForm(parts[0]), key == name else { continue }
            return parts.count > 1 ? PercentDecoding.decodeForm(parts[1]) ?? "" : ""
        }
        return nil
    }
}

/// A request as handed to a handler.
public struct HTTPRequest: Sendable {
    /// Request line and headers.
    public var head: HTTPRequestHead
    /// Values of the `{name}` segments of the route pattern that matched.
    public var pathParameters: [String: String]
    /// The whole body for immediate and blocking routes; empty for streaming routes (read it from the body reader).
    public var body: [UInt8]
    /// The peer's IPv4 address in host byte order (127.0.0.1 for requests built by hand).
    public var peer: UInt32
    /// The request's id, as the answer's `X-Request-Id` gives it: for log lines about it.
    public var requestID: String

    /// A request from its parts.
    public init(head: HTTPRequestHead, pathParameters: [String: String] = [:], body: [UInt8] = [], peer: UInt32 = 0x7F00_0001,
                requestID: String = "") {
        self.head = head
        self.pathParameters = pathParameters
        self.body = body
        self.peer = peer
        self.requestID = requestID
    }

    /// The peer's address in dotted form, e.g. "127.0.0.1".
    public var clientAddress: String {
        "\(peer >> 24).\(peer >> 16 & 255).\(peer >> 8 & 255).\(peer & 255)"
    }
}

/// `application/x-www-form-urlencoded` bodies and query strings.
public enum FormURLEncoded {
    /// The name–value pairs in order; nil when an escape is malformed, decodes to NUL, or is not UTF-8.
    public static func parse(_ text: Substring) -> [(name: String, value: String)]? {
        var pairs: [(name: String, value: String)] = []
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PercentDecoding.decodeForm(parts[0]) else { return nil }
            let value = parts.count > 1 ? PercentDecoding.decodeForm(parts[1]) : ""
            guard let value else { return nil }
            pairs.append((name, value))
        }
        return pairs
    }

    /// The pairs of a body; nil when it is not valid form data.
    public static func parse(_ body: [UInt8]) -> [(name: String, value: String)]? {
        guard let text = String(validating: body, as: UTF8.self) else { return nil }
        return parse(text[...])
    }
}

/// A complete response. The server adds Date, Server, Content-Length and Connection itself.
public struct HTTPResponse: Sendable {
    /// Status code.
    public var status: Int
    /// Header fields to send.
    public var headers: HTTPHeaders
    /// The body; not sent for HEAD requests, 204 and 304.
    public var body: [UInt8]
    /// Set by `computed(by:)`: the work that makes the real answer, run on the compute threads.
    public private(set) var computation: (@Sendable () throws -> HTTPResponse)?

    /// A response from its parts.
    public init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// From a blocking handler: the answer takes real work (a report computed over many rows),
    /// so `work` runs on the server's compute threads and its result is the answer. The handler's
    /// thread is free at once for requests that need no such work (an answer already cached), so
    /// those never wait behind expensive ones.
    public static func computed(by work: @escaping @Sendable () throws -> HTTPResponse) -> HTTPResponse {
        var response = HTTPResponse(status: 500)
        response.computation = work
        return response
    }

    /// A JSON response from already encoded bytes.
    public static func json(_ status: Int = 200, _ bytes: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: bytes)
    }

    /// A JSON response from an already encoded string.
    public static func json(_ status: Int = 200, _ text: String) -> HTTPResponse {
        json(status, Array(text.utf8))
    }

    /// A 200 JSON response from already encoded bytes.
    public static func json(_ bytes: [UInt8]) -> HTTPResponse { json(200, bytes) }

    /// A 200 JSON response from an already encoded string.
    public static func json(_ text: String) -> HTTPResponse { json(200, text) }

    /// A 200 plain text response (UTF-8).
    public static func text(_ text: String) -> HTTPResponse { self.text(200, text) }

    /// A 200 HTML response (UTF-8).
    public static func html(_ html: String) -> HTTPResponse { self.html(200, html) }

    /// A plain text response (UTF-8).
    public static func text(_ status: Int = 200, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array(text.utf8))
    }

    /// An HTML response (UTF-8).
    public static func html(_ status: Int = 200, _ html: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/html; charset=utf-8"], body: Array(html.utf8))
    }
}

/// An error that knows the HTTP answer it gets: a handler throws it as it is, and the server
/// answers with `httpError` (any other error is a 500 whose details stay in the log).
public protocol HTTPResponseError: Error {
    /// The status, code and message the client is answered with.
    var httpError: HTTPError { get }
}

/// An error that becomes an HTTP response: a status, a stable machine code and a human message,
/// rendered as `{"error": code, "message": message}`.
public struct HTTPError: HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
    /// Status code of the response.
    public var status: Int
    /// Stable machine-readable code, e.g. "not_found".
    public var code: String
    /// Human-readable explanation.
    public var message: String
    /// Headers added to the error response (e.g. Allow for 405).
    public var extraHeaders: HTTPHeaders

    /// An error from its parts.
    public init(status: Int, code: String, message: String, extraHeaders: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.code = code
        self.message = message
        self.extraHeaders = extraHeaders
    }

    /// Itself (an `HTTPError` is its own answer).
    public var httpError: HTTPError { self }

    /// The answer an error thrown by a handler gets: its own for an `HTTPResponseError`, nil for
    /// any other (the server then answers 500).
    public static func answering(_ error: any Error) -> HTTPError? {
        (error as? any HTTPResponseError)?.httpError
    }

    /// The JSON response for this error.
    public var response: HTTPResponse {
        var body: [UInt8] = []
        body.reserveCapacity(32 + code.utf8.count + message.utf8.count)
        body.append(contentsOf: #"{"error":"#.utf8)
        JSONWriter.appendQuoted(code, to: &body)
        body.append(contentsOf: #","message":"#.utf8)
        JSONWriter.appendQuoted(message, to: &body)
        body.append(UInt8(ascii: "}"))
        var response = HTTPResponse.json(status, body)
        for (name, value) in extraHeaders { response.headers.add(name, value) }
        return response
    }

    /// "status code: message".
    public var description: String { "\(status) \(code): \(message)" }

    /// 400 with the given code and message.
    public static func badRequest(_ code: String, _ message: String) -> HTTPError {
        HTTPError(status: 400, code: code, message: message)
    }

    /// A body that ended before its declared end (client disconnected or timed out).
    public static let incompleteBody = HTTPError(status: 400, code: "incomplete_body",
                                                 message: "The request body ended before its declared length.")
}

/// Percent-decoding of paths and form values.
enum PercentDecoding {
    /// Decodes %XX escapes in a path; nil when an escape is malformed, decodes to NUL, or the result is not UTF-8.
    static func decodePath(_ bytes: [UInt8]) -> String? {
        if !bytes.contains(UInt8(ascii: "%")) {
            if bytes.contains(0) { return nil }
            return String(validating: bytes, as: UTF8.self)
        }
        return decode(bytes[...], plusIsSpace: false)
    }

    /// Decodes an application/x-www-form-urlencoded value.
    static func decodeForm(_ text: Substring) -> String? {
        decode(Array(text.utf8)[...], plusIsSpace: true)
    }

    private static func decode(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex,
                      let high = ASCII.hexValue(bytes[index + 1]), let low = ASCII.hexValue(bytes[index + 2])
                else { return nil }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(plusIsSpace && byte == UInt8(ascii: "+") ? 32 : byte)
                index += 1
            }
        }
        if out.contains(0) { return nil }
        return String(validating: out, as: UTF8.self)
    }
}
