// The request and response values every layer above the transport speaks.

/// An HTTP request, as the REST layer hands it to an `HTTPClient`.
public struct HTTPRequest: Sendable {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    public var method: String
    /// The absolute URL, already percent-encoded.
    public var url: String
    /// Header lines in the order they are sent.
    public var headers: [(name: String, value: String)]
    public var body: RequestBody

    public init(method: String, url: String, headers: [(name: String, value: String)] = [], body: RequestBody = .empty) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    /// Appends one header line.
    public mutating func addHeader(_ name: String, _ value: String) {
        headers.append((name: name, value: value))
    }
}

/// The body of a request.
public enum RequestBody: Sendable {
    /// No body at all (GET, DELETE).
    case empty
    /// An in-memory body, streamed to the socket through the read callback.
    case bytes([UInt8])

    /// The number of bytes sent, or nil when no body is sent.
    public var count: Int? {
        switch self {
        case .empty: nil
        case .bytes(let bytes): bytes.count
        }
    }
}

/// An HTTP response with its body read into memory.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header lines of the final response, names lower-cased.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name == lowered }?.value
    }

    /// The body as UTF-8 text (for messages and JSON).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Sends one HTTP request and blocks until the whole response is read.
/// Implementations never retry: retrying is the REST layer's single loop.
public protocol HTTPClient: Sendable {
    /// Performs the request. Throws `GoogleCloudError.transport` when no
    /// response was received (connection refused or reset, timeout, stall).
    func perform(_ request: HTTPRequest) throws -> HTTPResponse
}

/// Limits of the libcurl client.
public struct HTTPClientSettings: Sendable, Equatable {
    /// Time allowed to establish a TCP (and TLS) connection, in milliseconds.
    public var connectTimeoutMilliseconds: Int = 10_000
    /// A transfer slower than `stallBytesPerSecond` for `stallSeconds` is aborted as stalled.
    public var stallBytesPerSecond: Int = 1
    public var stallSeconds: Int = 30
    /// A bound on a whole request, in milliseconds; 0 means none (the stall limit still applies).
    public var totalTimeoutMilliseconds: Int = 0
    /// Idle curl handles kept for reuse (each keeps its connections alive).
    public var maxPooledHandles: Int = 8
    /// Sent as User-Agent.
    public var userAgent: String = "sales-portal-gcloud/1.0"

    public init() {}
}
