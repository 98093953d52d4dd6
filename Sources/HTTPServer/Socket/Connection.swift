import Support
import Synchronization

/// One client connection, owned by the event loop that accepted it (never shared between threads).
final class Connection {
    let fd: Int32
    /// Unique per loop: messages from workers carry it, so a reused descriptor is never confused.
    let id: UInt64
    /// The peer's IPv4 address, host byte order.
    let peer: UInt32
    var parser: HTTPRequestParser
    /// Bytes waiting to be sent, from `outputOffset` on.
    var output: [UInt8] = []
    var outputOffset = 0
    /// The request being received, handled or answered; nil between requests.
    var request: ActiveRequest?
    /// Close (lingering) once `output` is sent.
    var closeAfterWrite = false
    /// Write side shut down; reading and discarding until the peer closes or `drainDeadline`.
    var draining = false
    var drainDeadline: UInt64 = 0
    /// The epoll events currently registered.
    var registeredEvents: UInt32
    /// Reading is off because a streaming handler has not drained its queue.
    var pausedByStream = false
    /// When the current request head began arriving (coarse ms); 0 when not inside a head.
    var headStartedAt: UInt64 = 0
    /// Last read or write progress (coarse ms).
    var lastActivity: UInt64

    init(fd: Int32, id: UInt64, peer: UInt32, limits: HTTPLimits, now: UInt64, events: UInt32) {
        self.fd = fd
        self.id = id
        self.peer = peer
        self.parser = HTTPRequestParser(limits: limits)
        self.lastActivity = now
        self.registeredEvents = events
    }

    var pendingOutput: Int { output.count - outputOffset }

    /// Whether the connection is waiting for a worker's response (reading would only queue more input).
    var isWaitingForHandler: Bool {
        guard let request else { return false }
        return request.bodyComplete && !request.responseSent
    }
}

/// State of one request from its head to its response.
final class ActiveRequest {
    /// Unique per loop; matches worker responses to requests.
    let id: UInt64
    let head: HTTPRequestHead
    let peer: UInt32
    let startedAt: UInt64
    /// The request's id in the logs and in the answer's `X-Request-Id` (see `RequestID`).
    let requestID: String
    /// The W3C trace id the client sent, if any.
    let traceID: String?
    var handler: Router.Handler?
    /// The pattern of the route that matched (empty when none did).
    var route = ""
    var parameters: [String: String] = [:]
    /// The buffered body (immediate and blocking routes).
    var body: [UInt8] = []
    var bodyBytes: Int64 = 0
    var bodyLimit: Int64 = 0
    /// The queue feeding a streaming handler's consumer.
    var stream: BodyPump?
    var bodyComplete = false
    var responseSent = false
    /// Counted against the client's uploads in progress (released when answered or closed).
    var countedAsUpload = false
    /// The current window of the body-rate check: when it began (coarse ms) and the bytes then.
    var rateWindowStart: UInt64 = 0
    var rateWindowBytes: Int64 = 0

    init(id: UInt64, head: HTTPRequestHead, peer: UInt32, startedAt: UInt64, requestID: String, traceID: String?) {
        self.id = id
        self.head = head
        self.peer = peer
        self.startedAt = startedAt
        self.requestID = requestID
        self.traceID = traceID
    }
}

/// Messages other threads send to an event loop.
enum LoopMessage: Sendable {
    /// A worker finished a handler.
    case response(fd: Int32, connectionID: UInt64, requestID: UInt64, response: HTTPResponse)
    /// A streaming body's queue was drained: read the socket again.
    case resumeReading(fd: Int32, connectionID: UInt64)
    /// Stop accepting, finish in-flight requests until the deadline (coarse ms), then exit.
    case shutdown(deadline: UInt64)
}

/// A loop's inbox: a locked queue plus the eventfd that wakes the loop.
final class LoopMailbox: Sendable {
    let wakeFD: Int32
    private let queue = Mutex<[LoopMessage]>([])

    init(wakeFD: Int32) {
        self.wakeFD = wakeFD
    }

    /// Queues a message and wakes the loop if it was not already due to look.
    func post(_ message: LoopMessage) {
        let wasEmpty = queue.withLock { messages in
            let empty = messages.isEmpty
            messages.append(message)
            return empty
        }
        if wasEmpty { Poller.wake(wakeFD) }
    }

    /// Takes every queued message.
    func takeAll(into messages: inout [LoopMessage]) {
        queue.withLock { swap(&$0, &messages) }
    }
}

/// Open connections per client address, across every loop of a server.
final class ClientConnections: Sendable {
    private let counts = Mutex<[UInt32: Int]>([:])
    private let all = Atomic<Int>(0)
    let limit: Int

    /// Held now, by every address together.
    var total: Int { all.load(ordering: .relaxed) }

    init(limit: Int) { self.limit = limit }

    /// Counts a new connection of `peer`; false (and not counted) when it already holds `limit`.
    func admit(_ peer: UInt32) -> Bool {
        counts.withLock { counts in
            let held = counts[peer, default: 0]
            guard held < limit else { return false }
            counts[peer] = held + 1
            all.add(1, ordering: .relaxed)
            return true
        }
    }

    /// Forgets a closed connection of `peer`.
    func release(_ peer: UInt32) {
        counts.withLock { counts in
            let held = counts[peer, default: 0] - 1
            counts[peer] = held > 0 ? held : nil
            if held >= 0 { all.subtract(1, ordering: .relaxed) }
        }
    }
}

/// What all loops of a server share (immutable).
struct ServerContext: Sendable {
    let router: Router
    let configuration: HTTPServerConfiguration
    /// Connections per client address, capped at `HTTPLimits.maxConnectionsPerClient`.
    let clientConnections: ClientConnections
    /// Uploads in progress per client address, capped at `HTTPLimits.maxUploadsPerClient`.
    let clientUploads: ClientConnections
    /// Runs blocking handlers.
    let workers: WorkerPool
    /// Runs streaming handlers' `finish` (storing and loading uploads).
    let streamingWorkers: WorkerPool
    /// Hands streaming bodies to their consumers, a queue's worth at a time.
    let receiveWorkers: WorkerPool
    /// Runs the work of `HTTPResponse.computed(by:)` answers, at a lower CPU priority.
    let computeWorkers: ComputePool
}
