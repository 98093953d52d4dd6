import CSystemLinux
import Glibc
import Support

/// One event-loop thread: an epoll instance, its own SO_REUSEPORT listener, and the connections it accepted.
/// Idle connections cost a table slot and a small parser, never a thread.
final class EventLoop {
    let context: ServerContext
    let limits: HTTPLimits
    let timeouts: HTTPTimeouts
    let mailbox: LoopMailbox
    let poller: Poller
    var listenerFD: Int32
    var connections: [Connection?] = []
    var connectionCount = 0
    var nextID: UInt64 = 1
    /// Request ids this loop makes: a random prefix (another per loop and process) and a count.
    private let requestIDPrefix = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)
    private var requestCount: UInt64 = 0
    var encoder: ResponseEncoder
    var accessLog: AccessLog
    /// Coarse monotonic milliseconds, refreshed once per wakeup.
    var now: UInt64
    var shuttingDown = false
    var shutdownDeadline: UInt64 = 0
    let sweepInterval: UInt64
    private var lastSweep: UInt64
    /// Set while accepting is paused because the process ran out of file descriptors.
    private var acceptPausedUntil: UInt64?
    private var messages: [LoopMessage] = []
    /// Receive buffer shared by the loop's connections (one recv at a time).
    let scratch: UnsafeMutableRawBufferPointer
    static let scratchBytes = 256 << 10
    private let onExit: @Sendable () -> Void

    init(context: ServerContext, poller: Poller, listenerFD: Int32, mailbox: LoopMailbox, onExit: @escaping @Sendable () -> Void) {
        self.context = context
        self.limits = context.configuration.limits
        self.timeouts = context.configuration.timeouts
        self.poller = poller
        self.listenerFD = listenerFD
        self.mailbox = mailbox
        self.onExit = onExit
        self.encoder = ResponseEncoder(
            serverName: context.configuration.serverName, commonHeaders: context.configuration.commonHeaders)
        self.accessLog = AccessLog(enabled: context.configuration.accessLog, format: ServerLog.format)
        self.now = Clock.coarseMilliseconds()
        self.lastSweep = now
        self.sweepInterval = UInt64(max(5, min(250, context.configuration.timeouts.shortest / 4)))
        self.scratch = .allocate(byteCount: Self.scratchBytes, alignment: 16)
        poller.add(listenerFD, events: EPOLLIN.rawValue)
    }

    /// A new request id: `<8 hex of the loop>-<count in hex>`.
    func makeRequestID() -> String {
        requestCount &+= 1
        return requestIDPrefix + "-" + String(requestCount, radix: 16)
    }

    deinit {
        scratch.deallocate()
    }

    /// Runs until shutdown completes.
    func run() {
        let capacity = 512
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        while true {
            let count = epoll_wait(poller.epollFD, events, Int32(capacity), Int32(sweepInterval))
            now = Clock.coarseMilliseconds()
            encoder.refreshDate()
            if count > 0 {
                for index in 0..<Int(count) {
                    let event = events[index]
                    let fd = event.data.fd
                    if fd == poller.wakeFD {
                        poller.drainWake()
                        handleMessages()
                    } else if fd == listenerFD {
                        acceptConnections()
                    } else {
                        handleEvent(fd: fd, events: event.events)
                    }
                }
            }
            if now &- lastSweep >= sweepInterval {
                lastSweep = now
                sweep()
            }
            accessLog.flush()
            if shuttingDown && (now >= shutdownDeadline || onlyDrainingConnectionsLeft()) { break }
        }
        for connection in connections.compactMap({ $0 }) { closeConnection(connection) }
        accessLog.flush()
        if listenerFD >= 0 { close(listenerFD) }
        poller.close()
        onExit()
    }

    /// During shutdown: every answer has been sent; what is left only waits for peers to close.
    private func onlyDrainingConnectionsLeft() -> Bool {
        if connectionCount == 0 { return true }
        for case let connection? in connections where !connection.draining { return false }
        return true
    }

    // MARK: Accepting and closing

    /// The answer to a connection over the per-client cap.
    static let tooManyConnections = Array((
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + "Content-Length: 90\r\n\r\n"
            + #"{"error":"too_many_connections","message":"This address holds too many open connections."}"#).utf8)

    private func acceptConnections() {
        for _ in 0..<256 {
            guard let (fd, peer) = Socket.accept(listenerFD) else {
                if errno == EMFILE || errno == ENFILE {
                    // Out of descriptors: the pending connection stays in the backlog. Stop listening
                    // for a moment instead of waking again at once (level-triggered) and spinning.
                    poller.remove(listenerFD)
                    acceptPausedUntil = now &+ 100
                }
                return
            }
            guard context.clientConnections.admit(peer) else {
                // Over the per-client cap: a short answer (best effort, the socket is fresh) and close.
                _ = Self.tooManyConnections.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(fd)
                continue
            }
            let events = EPOLLIN.rawValue
            let connection = Connection(fd: fd, id: nextID, peer: peer, limits: limits, now: now, events: events)
            nextID &+= 1
            let slot = Int(fd)
            if slot >= connections.count {
                connections.append(contentsOf: repeatElement(nil, count: max(slot + 1 - connections.count, connections.count)))
            }
            connections[slot] = connection
            connectionCount += 1
            poller.add(fd, events: events)
        }
    }

    func closeConnection(_ connection: Connection) {
        guard connections[Int(connection.fd)] === connection else { return }
        if let stream = connection.request?.stream { stream.fail(.incompleteBody) }
        if let request = connection.request { releaseUpload(connection, request) }
        poller.remove(connection.fd)
        close(connection.fd)
        connections[Int(connection.fd)] = nil
        connectionCount -= 1
        context.clientConnections.release(connection.peer)
    }

    /// Shuts down the write side and reads until the peer closes, so a response sent before
    /// unread input is not destroyed by a reset.
    func beginLingeringClose(_ connection: Connection) {
        if let stream = connection.request?.stream { stream.fail(.incompleteBody) }
        shutdown(connection.fd, Int32(SHUT_WR))
        connection.draining = true
        connection.drainDeadline = now + 2000
        updateInterest(connection)
    }

    // MARK: Socket events

    private func handleEvent(fd: Int32, events: UInt32) {
        guard Int(fd) < connections.count, let connection = connections[Int(fd)] else { return }
        if events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            if connection.draining {
                drain(connection)
                return
            }
            if events & EPOLLIN.rawValue != 0 && connection.registeredEvents & EPOLLIN.rawValue != 0 {
                readAvailable(connection)
            } else if events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
                closeConnection(connection)
                return
            }
        }
        guard connections[Int(fd)] === connection else { return }
        if events & EPOLLOUT.rawValue != 0 {
            flush(connection)
        }
    }

    private func readAvailable(_ connection: Connection) {
        if let request = connection.request, request.stream != nil, !request.responseSent,
           let expected = connection.parser.directBodyBytesExpected, expected > 0 {
            readBodyDirectly(connection, expected: expected)
            return
        }
        let received = recv(connection.fd, scratch.baseAddress, scratch.count, 0)
        if received > 0 {
            connection.lastActivity = now
            connection.parser.append(UnsafeRawBufferPointer(rebasing: scratch[0..<received]))
            processInput(connection)
        } else if received == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            closeConnection(connection)
        }
    }

    /// Receives a streaming body straight into the chunk handed to the handler: no copy through the parser.
    private func readBodyDirectly(_ connection: Connection, expected: Int64) {
        let wanted = Int(min(expected, Int64(Self.scratchBytes)))
        var received = 0
        let chunk = [UInt8](unsafeUninitializedCapacity: wanted) { buffer, count in
            received = recv(connection.fd, buffer.baseAddress, wanted, 0)
            count = max(0, received)
        }
        if received > 0 {
            connection.lastActivity = now
            connection.parser.skipBody(received)
            receiveBody(connection, chunk)
            processInput(connection)
        } else if received == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            closeConnection(connection)
        }
    }

    /// Reads and discards what a peer still sends after its answer, a bounded amount per wakeup,
    /// until it closes or the drain deadline passes (the sweep closes it then).
    private func drain(_ connection: Connection) {
        for _ in 0..<16 {
            let received = recv(connection.fd, scratch.baseAddress, scratch.count, 0)
            if received > 0 { continue }
            if received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return }
            closeConnection(connection)
            return
        }
    }

    /// Sends as much pending output as the socket takes; arms EPOLLOUT for the rest.
    func flush(_ connection: Connection) {
        let hadOutput = connection.pendingOutput > 0
        if hadOutput {
            let failed: Bool = connection.output.withUnsafeBytes { bytes in
                while connection.outputOffset < bytes.count {
                    let sent = send(connection.fd, bytes.baseAddress! + connection.outputOffset,
                                    bytes.count - connection.outputOffset, Int32(MSG_NOSIGNAL))
                    if sent > 0 {
                        connection.outputOffset += sent
                        connection.lastActivity = now
                    } else if sent < 0 && errno == EINTR {
                        continue
                    } else if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                        return false
                    } else {
                        return true
                    }
                }
                return false
            }
            if failed {
                closeConnection(connection)
                return
            }
            if connection.pendingOutput == 0 {
                connection.output.removeAll(keepingCapacity: connection.output.capacity <= 64 << 10)
                connection.outputOffset = 0
            }
        }
        if connection.pendingOutput == 0 && connection.closeAfterWrite && !connection.draining {
            beginLingeringClose(connection)
            return
        }
        updateInterest(connection)
        if hadOutput && connection.pendingOutput == 0 && connection.request == nil && !connection.pausedByStream
            && connection.parser.bufferedByteCount > 0 {
            // Output drained: pipelined input held back by output backpressure can proceed.
            processInput(connection)
        }
    }

    /// Registers the epoll events the connection's state calls for.
    func updateInterest(_ connection: Connection) {
        guard connections[Int(connection.fd)] === connection else { return }
        var events: UInt32 = 0
        if connection.draining {
            events = EPOLLIN.rawValue
        } else {
            let reading = !connection.closeAfterWrite && !connection.pausedByStream && !connection.isWaitingForHandler
                && connection.pendingOutput < (1 << 20)
            if reading { events |= EPOLLIN.rawValue }
            if connection.pendingOutput > 0 { events |= EPOLLOUT.rawValue }
        }
        if events != connection.registeredEvents {
            connection.registeredEvents = events
            poller.modify(connection.fd, events: events)
        }
    }

    // MARK: Messages from other threads

    private func handleMessages() {
        mailbox.takeAll(into: &messages)
        for message in messages {
            switch message {
            case let .response(fd, connectionID, requestID, response):
                guard let connection = connection(fd: fd, id: connectionID),
                      let request = connection.request, request.id == requestID, !request.responseSent else { continue }
                respond(connection, response, close: false)
                processInput(connection)
            case let .resumeReading(fd, connectionID):
                guard let connection = connection(fd: fd, id: connectionID) else { continue }
                connection.pausedByStream = false
                processInput(connection)
            case let .shutdown(deadline):
                beginShutdown(deadline: deadline)
            }
        }
        messages.removeAll(keepingCapacity: true)
    }

    private func connection(fd: Int32, id: UInt64) -> Connection? {
        guard Int(fd) < connections.count, let connection = connections[Int(fd)], connection.id == id else { return nil }
        return connection
    }

    private func beginShutdown(deadline: UInt64) {
        shuttingDown = true
        shutdownDeadline = deadline
        if listenerFD >= 0 {
            poller.remove(listenerFD)
            close(listenerFD)
            listenerFD = -1
        }
        for case let connection? in connections where connection.request == nil && connection.pendingOutput == 0 {
            if connection.parser.isIdle || connection.draining { closeConnection(connection) }
        }
    }

    // MARK: Timeouts

    /// Why a body being received is given up: no bytes for too long, too slow over a window in
    /// which the server was reading (not while a handler held it back), or too long in all.
    private func bodyTooSlow(_ connection: Connection, _ request: ActiveRequest) -> HTTPError? {
        let started = request.startedAt / 1_000_000
        let nowMilliseconds = Clock.nanoseconds() / 1_000_000
        if nowMilliseconds &- started >= UInt64(timeouts.bodyDeadlineMilliseconds) {
            return HTTPError(status: 408, code: "body_deadline",
                             message: "The request body took longer than \(timeouts.bodyDeadlineMilliseconds / 1000) s in all.")
        }
        if connection.pausedByStream || request.rateWindowStart == 0 {
            // The server, not the client, holds the body back: start the window again.
            request.rateWindowStart = now
            request.rateWindowBytes = request.bodyBytes
            return nil
        }
        if now &- connection.lastActivity >= UInt64(timeouts.bodyInactivityMilliseconds) {
            return HTTPError(status: 408, code: "body_timeout", message: "The request body stopped arriving.")
        }
        let window = now &- request.rateWindowStart
        guard window >= UInt64(timeouts.bodyRateWindowMilliseconds) else { return nil }
        let rate = (request.bodyBytes - request.rateWindowBytes) * 1000 / Int64(max(1, window))
        if rate < Int64(timeouts.minBodyBytesPerSecond) {
            return HTTPError(status: 408, code: "body_too_slow",
                             message: "The request body arrives at \(rate) bytes/s, under \(timeouts.minBodyBytesPerSecond).")
        }
        request.rateWindowStart = now
        request.rateWindowBytes = request.bodyBytes
        return nil
    }

    /// Enforces the per-phase timeouts; runs every `sweepInterval`.
    private func sweep() {
        if let until = acceptPausedUntil, now >= until, listenerFD >= 0 {
            acceptPausedUntil = nil
            poller.add(listenerFD, events: EPOLLIN.rawValue)
        }
        for case let connection? in connections {
            if connection.draining {
                if now >= connection.drainDeadline { closeConnection(connection) }
                continue
            }
            if connection.pendingOutput > 0 {
                if now &- connection.lastActivity >= UInt64(timeouts.writeMilliseconds) { closeConnection(connection) }
                continue
            }
            if let request = connection.request {
                if !request.bodyComplete && !request.responseSent, let failure = bodyTooSlow(connection, request) {
                    if let stream = request.stream {
                        stream.fail(failure)
                        respond(connection, failure.response, close: true)
                    } else {
                        refuse(connection, request, failure, close: true)
                    }
                    flush(connection)
                }
                continue
            }
            if connection.headStartedAt != 0 {
                if now &- connection.headStartedAt >= UInt64(timeouts.requestHeadMilliseconds) {
                    respondWithoutRequest(connection, HTTPError(status: 408, code: "request_timeout",
                                                                message: "The request head did not arrive in time.").response)
                }
            } else if connection.parser.isIdle {
                if shuttingDown || now &- connection.lastActivity >= UInt64(timeouts.idleKeepAliveMilliseconds) {
                    closeConnection(connection)
                }
            }
        }
    }
}

/// Hands a loop to the thread that runs it.
struct EventLoopHandOff: @unchecked Sendable {
    // Safe: the loop is created on the starting thread and used only by the one thread it is handed to.
    let loop: EventLoop
}
