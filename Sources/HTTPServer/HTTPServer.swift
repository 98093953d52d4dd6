import Glibc
import Support
import Synchronization

/// An HTTP/1.1 server on POSIX sockets: `eventLoopThreads` epoll loops accept and parse,
/// immediate handlers answer inline, and a pool of worker threads runs blocking and streaming handlers.
public final class HTTPServer: Sendable {
    private let configuration: HTTPServerConfiguration
    private let router: Router
    private let state = Mutex<State>(State())
    private let stopped = ConditionLockedFlag()

    private struct State {
        var started = false
        var mailboxes: [LoopMailbox] = []
        var workers: [WorkerPool] = []
        var computeWorkers: ComputePool?
        var clientConnections: ClientConnections?
        var clientUploads: ClientConnections?
        var runningLoops = 0
        var port = 0
    }

    /// A server that will answer with `router`'s routes; nothing happens until `start()`.
    public init(configuration: HTTPServerConfiguration, router: Router) {
        self.configuration = configuration
        self.router = router
    }

    /// Makes writes to a closed socket return EPIPE instead of killing the process. Call once at start.
    public static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Binds the listeners, starts the loop and worker threads, and returns the bound port.
    @discardableResult
    public func start() throws -> Int {
        let alreadyStarted = state.withLock { state -> Bool in
            if state.started { return true }
            state.started = true
            return false
        }
        if alreadyStarted { return state.withLock { $0.port } }
        Self.ignoreSIGPIPE()
        let loopCount = max(1, configuration.eventLoopThreads)
        var listeners: [Int32] = []
        var port = configuration.port
        do {
            if port != 0 { try Socket.ensureFree(host: configuration.host, port: port) }
            for _ in 0..<loopCount {
                let fd = try Socket.listen(host: configuration.host, port: port)
                listeners.append(fd)
                if port == 0 { port = Socket.localPort(fd) }
            }
        } catch {
            for fd in listeners { close(fd) }
            state.withLock { $0.started = false }
            throw error
        }
        let workers = WorkerPool(threadCount: configuration.workerThreads)
        let streamingWorkers = WorkerPool(threadCount: configuration.streamingWorkerThreads)
        let receiveWorkers = WorkerPool(threadCount: configuration.receiveWorkerThreads)
        let computeWorkers = ComputePool(threadCount: configuration.computeWorkerThreads,
                                         niceness: configuration.computeThreadNiceness,
                                         maxWaitingPerClient: configuration.maxWaitingComputationsPerClient)
        let clientConnections = ClientConnections(limit: max(1, configuration.limits.maxConnectionsPerClient))
        let clientUploads = ClientConnections(limit: max(1, configuration.limits.maxUploadsPerClient))
        let context = ServerContext(
            router: router, configuration: configuration,
            clientConnections: clientConnections,
            clientUploads: clientUploads,
            workers: workers, streamingWorkers: streamingWorkers, receiveWorkers: receiveWorkers,
            computeWorkers: computeWorkers)
        var handOffs: [EventLoopHandOff] = []
        var mailboxes: [LoopMailbox] = []
        for listener in listeners {
            let poller = try Poller()
            let mailbox = LoopMailbox(wakeFD: poller.wakeFD)
            let loop = EventLoop(context: context, poller: poller, listenerFD: listener, mailbox: mailbox) { [self] in
                self.loopExited()
            }
            handOffs.append(EventLoopHandOff(loop: loop))
            mailboxes.append(mailbox)
        }
        state.withLock { state in
            state.mailboxes = mailboxes
            state.workers = [workers, streamingWorkers, receiveWorkers]
            state.computeWorkers = computeWorkers
            state.clientConnections = clientConnections
            state.clientUploads = clientUploads
            state.runningLoops = handOffs.count
            state.port = port
        }
        for handOff in handOffs {
            let thread = PThread.start { handOff.loop.run() }
            pthread_detach(thread)
        }
        return port
    }

    /// How busy the worker pools are: jobs waiting and running, and threads, for queries
    /// (`blocking` handlers and the computations they hand on) and uploads (`streaming`).
    /// Zero before `start`.
    public var load: ServerLoad {
        let (pools, compute, connections, uploads) = state.withLock {
            ($0.workers, $0.computeWorkers, $0.clientConnections, $0.clientUploads)
        }
        guard pools.count == 3, let compute else { return ServerLoad() }
        let (queries, uploadPool, computations) = (pools[0].load, pools[1].load, compute.load)
        return ServerLoad(queuedQueries: queries.queued + computations.queued, runningQueries: queries.running + computations.running,
                          queryThreads: pools[0].threadCount + compute.threadCount,
                          queuedUploads: uploadPool.queued, runningUploads: uploadPool.running, uploadThreads: pools[1].threadCount,
                          maxQueuedQueries: configuration.maxQueuedRequests, openConnections: connections?.total ?? 0,
                          uploadsInProgress: uploads?.total ?? 0)
    }

    /// The bound port once started (0 before).
    public var port: Int { state.withLock { $0.port } }

    /// Stops accepting, lets in-flight requests finish within the grace period, closes idle
    /// keep-alive connections, and returns once every loop has stopped.
    public func shutdown(gracePeriodMilliseconds: Int = 10_000) {
        let mailboxes = state.withLock { $0.mailboxes }
        guard !mailboxes.isEmpty else {
            stopped.set()
            return
        }
        let deadline = Clock.coarseMilliseconds() + UInt64(max(0, gracePeriodMilliseconds))
        for mailbox in mailboxes { mailbox.post(.shutdown(deadline: deadline)) }
        waitUntilStopped()
    }

    /// Blocks until the server has stopped (after `shutdown`).
    public func waitUntilStopped() {
        stopped.wait()
    }

    private func loopExited() {
        let (last, workers, compute) = state.withLock { state -> (Bool, [WorkerPool], ComputePool?) in
            state.runningLoops -= 1
            return (state.runningLoops == 0, state.workers, state.computeWorkers)
        }
        if last {
            for pool in workers { pool.stop() }
            compute?.stop()
            stopped.set()
        }
    }
}

/// A flag threads can wait for.
final class ConditionLockedFlag: @unchecked Sendable {
    // Safe: `value` is only touched with `lock` held.
    private let lock = ConditionLock()
    private var value = false

    func set() {
        lock.withLock {
            value = true
            lock.broadcast()
        }
    }

    func wait() {
        lock.withLock {
            while !value { lock.wait() }
        }
    }
}

/// A snapshot of how busy a server's worker pools are.
public struct ServerLoad: Sendable, Equatable {
    public var queuedQueries = 0
    public var runningQueries = 0
    public var queryThreads = 0
    public var queuedUploads = 0
    public var runningUploads = 0
    public var uploadThreads = 0
    public var maxQueuedQueries = 0
    /// Client connections open now.
    public var openConnections = 0
    /// Upload requests from their head to their answer: bodies arriving (which hold no thread),
    /// and files being stored and loaded (`runningUploads`) or waiting for an upload thread.
    public var uploadsInProgress = 0

    public init(queuedQueries: Int = 0, runningQueries: Int = 0, queryThreads: Int = 0, queuedUploads: Int = 0,
                runningUploads: Int = 0, uploadThreads: Int = 0, maxQueuedQueries: Int = 0, openConnections: Int = 0,
                uploadsInProgress: Int = 0) {
        self.openConnections = openConnections
        self.uploadsInProgress = uploadsInProgress
        self.queuedQueries = queuedQueries
        self.runningQueries = runningQueries
        self.queryThreads = queryThreads
        self.queuedUploads = queuedUploads
        self.runningUploads = runningUploads
        self.uploadThreads = uploadThreads
        self.maxQueuedQueries = maxQueuedQueries
    }

    /// Queries wait beyond half of what may wait: a load balancer should send new work elsewhere.
    public var isSaturated: Bool { maxQueuedQueries > 0 && queuedQueries * 2 >= maxQueuedQueries }
}
