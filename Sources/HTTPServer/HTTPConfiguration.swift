/// Size limits applied to every request. Exceeding one is answered with a precise 4xx status.
public struct HTTPLimits: Sendable {
    /// Longest request line accepted (method, target and version); longer answers 414.
    public var maxRequestLineBytes: Int = 8192
    /// Total bytes of the header section (and of chunked trailers); more answers 431.
    public var maxHeaderBytes: Int = 65536
    /// Number of header fields (and trailer fields); more answers 431.
    public var maxHeaderCount: Int = 100
    /// Largest body buffered in memory for immediate and blocking routes; more answers 413.
    public var maxBufferedBodyBytes: Int = 1 << 20
    /// Largest body accepted by streaming routes; more answers 413.
    public var maxStreamingBodyBytes: Int64 = 4 << 30
    /// Longest chunk-size line (size plus extensions) of a chunked body; longer answers 400.
    public var maxChunkSizeLineBytes: Int = 4096
    /// Bytes a streaming request may hold queued for its handler before the socket stops being read.
    public var streamingQueueBytes: Int = 1 << 20
    /// Open connections one client address may hold at once; more are answered 503 and closed,
    /// so one client cannot take every descriptor and lock everyone else out.
    public var maxConnectionsPerClient: Int = 1024
    /// Streaming requests (uploads) one client address may have in progress; more are answered 429.
    public var maxUploadsPerClient: Int = 3

    /// Limits with the defaults above.
    public init() {}
}

/// Per-phase timeouts of a connection, in milliseconds.
public struct HTTPTimeouts: Sendable {
    /// Time allowed from the first byte of a request until its head is complete (slowloris); then 408 and close.
    public var requestHeadMilliseconds: Int = 10_000
    /// Longest pause allowed while a body is being received; then 408 and close.
    public var bodyInactivityMilliseconds: Int = 30_000
    /// How long an idle keep-alive connection is kept; then it is closed silently.
    public var idleKeepAliveMilliseconds: Int = 60_000
    /// A body must arrive at least this fast (bytes per second), measured over windows of
    /// `bodyRateWindowMilliseconds` in which the server was reading it; slower answers 408 and closes.
    public var minBodyBytesPerSecond: Int = 10_240
    public var bodyRateWindowMilliseconds: Int = 30_000
    /// The longest a request body may take in all; then 408 and close.
    public var bodyDeadlineMilliseconds: Int = 3_600_000
    /// Longest time a pending response may make no progress being written; then the connection is closed.
    public var writeMilliseconds: Int = 30_000

    /// Timeouts with the defaults above.
    public init() {}

    /// Timeouts with explicit values, in milliseconds.
    public init(requestHead: Int = 10_000, bodyInactivity: Int = 30_000, idleKeepAlive: Int = 60_000, write: Int = 30_000) {
        requestHeadMilliseconds = requestHead
        bodyInactivityMilliseconds = bodyInactivity
        idleKeepAliveMilliseconds = idleKeepAlive
        writeMilliseconds = write
    }

    /// The shortest of the timeouts: the sweep that enforces them runs several times within it.
    var shortest: Int {
        min(requestHeadMilliseconds, bodyInactivityMilliseconds, idleKeepAliveMilliseconds, writeMilliseconds)
    }
}

/// Everything the server needs to know besides its routes.
public struct HTTPServerConfiguration: Sendable {
    /// Address to bind (IPv4 dotted form, or "0.0.0.0" for all interfaces).
    public var host: String = "127.0.0.1"
    /// Port to bind; 0 picks any free port, reported by `HTTPServer.start()`.
    public var port: Int = 8080
    /// Number of event-loop threads, each with its own epoll instance and SO_REUSEPORT listener.
    public var eventLoopThreads: Int = 2
    /// Number of worker threads that run blocking handlers (queries, status pages).
    public var workerThreads: Int = 4
    /// Number of worker threads that run streaming handlers (uploads). A pool of their own, so
    /// that long or stalled uploads never keep the blocking handlers from a thread.
    public var streamingWorkerThreads: Int = 4
    /// Number of threads that run the work of answers made with `HTTPResponse.computed(by:)`
    /// (report questions over many rows), apart from the blocking handlers' threads.
    public var computeWorkerThreads: Int = 4
    /// The compute threads' nice value (0 normal, 19 lowest): when the cores are busy, event
    /// loops, uploads and quick answers get them before expensive questions do.
    public var computeThreadNiceness: Int32 = 15
    /// Computations one client address may have waiting for a compute thread; more are answered
    /// 429 at once, so one address cannot fill the queue (`maxQueuedRequests`) for everyone.
    public var maxWaitingComputationsPerClient: Int = 8
    /// Number of worker threads that hand streaming bodies to their consumers (multipart parsing,
    /// spooling). A thread is taken only while received bytes wait, never while a client is slow.
    public var receiveWorkerThreads: Int = 2
    /// Request size limits.
    public var limits = HTTPLimits()
    /// Per-phase timeouts.
    public var timeouts = HTTPTimeouts()
    /// Smallest text body worth compressing with gzip when the client accepts it.
    public var gzipMinimumBytes: Int = 860
    /// Requests (queries, status pages) that may wait for a worker; more are answered 503 at
    /// once with `Retry-After` instead of queueing without end.
    public var maxQueuedRequests: Int = 256
    /// Value of the `Server` response header.
    public var serverName: String = "sales-portal"
    /// Headers sent on every response, error answers of the server itself included
    /// (security policies such as `X-Content-Type-Options`). Encoded once at start.
    public var commonHeaders = HTTPHeaders()
    /// Proxies whose `X-Forwarded-For` names the client (`HTTPRequest.peer`, the per-client
    /// upload limit). Connections are still counted per TCP peer.
    public var trustedProxies = TrustedProxies()
    /// Writes one line per request (`METHOD PATH STATUS BYTES DURATIONms`) to standard output.
    public var accessLog: Bool = true
    /// Told of each answer the server gives for a matched route without its handler having
    /// answered (every worker busy, a computation refused, too many uploads, a body too large
    /// for a buffered route), so that request metrics count refusals as well as answers.
    /// Called on the thread that refuses; must not block.
    public var onRefusal: (@Sendable (RefusedRequest) -> Void)?

    /// A configuration with the defaults above.
    public init() {}

    /// A configuration with the most often changed settings given explicitly.
    public init(host: String = "127.0.0.1", port: Int = 8080, eventLoopThreads: Int = 2, workerThreads: Int = 4,
                limits: HTTPLimits = HTTPLimits(), timeouts: HTTPTimeouts = HTTPTimeouts(),
                gzipMinimumBytes: Int = 860, serverName: String = "sales-portal", accessLog: Bool = true) {
        self.host = host
        self.port = port
        self.eventLoopThreads = eventLoopThreads
        self.workerThreads = workerThreads
        self.limits = limits
        self.timeouts = timeouts
        self.gzipMinimumBytes = gzipMinimumBytes
        self.serverName = serverName
        self.accessLog = accessLog
    }
}

/// A request the server answered itself for a matched route (see `HTTPServerConfiguration.onRefusal`).
public struct RefusedRequest: Sendable, Equatable {
    /// The request method.
    public var method: String
    /// The pattern of the route that matched (`/api/report/{kind}`).
    public var route: String
    /// The status answered (429, 503, 413 …).
    public var status: Int
    /// From the request head to the refusal.
    public var seconds: Double
    /// Body bytes received before the refusal.
    public var bodyBytes: Int
}
