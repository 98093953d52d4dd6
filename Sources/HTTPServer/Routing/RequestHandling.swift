import Glibc
import Support

/// From parser events to handlers and responses, on the loop thread.
extension EventLoop {
    /// Parses what the connection has buffered and acts on it, until more input or a handler is needed.
    func processInput(_ connection: Connection) {
        while !connection.closeAfterWrite && !connection.draining {
            if connection.isWaitingForHandler || connection.pendingOutput >= (1 << 20) { break }
            let event: HTTPParserEvent?
            do {
                event = try connection.parser.next()
            } catch {
                if let request = connection.request, !request.responseSent {
                    request.stream?.fail(error)
                    respond(connection, error.response, close: true)
                } else {
                    respondWithoutRequest(connection, error.response)
                }
                break
            }
            guard let event else { break }
            switch event {
            case .head(let head): beginRequest(connection, head)
            case .body(let bytes): receiveBody(connection, bytes)
            case .end: endBody(connection)
            }
        }
        guard connections[Int(connection.fd)] === connection else { return }
        if connection.request == nil && connection.parser.isInsideHead {
            if connection.headStartedAt == 0 { connection.headStartedAt = now }
        } else {
            connection.headStartedAt = 0
        }
        if connection.request == nil && connection.parser.isIdle { connection.parser.releaseMemoryIfIdle() }
        flush(connection)
    }

    private func beginRequest(_ connection: Connection, _ head: HTTPRequestHead) {
        let proxies = context.configuration.trustedProxies
        let client = proxies.isEmpty ? connection.peer
            : proxies.client(peer: connection.peer, forwardedFor: head.headers.values(for: "x-forwarded-for"))
        let (givenID, traceID) = RequestID.from(head.headers)
        let request = ActiveRequest(id: nextID, head: head, peer: client, startedAt: Clock.nanoseconds(),
                                    requestID: givenID ?? makeRequestID(), traceID: traceID)
        nextID &+= 1
        connection.request = request
        connection.headStartedAt = 0
        if let expectation = head.expectation, !HTTPHeaders.equalNames(expectation, "100-continue") {
            respond(connection, HTTPError(status: 417, code: "expectation_failed",
                                          message: "Only 'Expect: 100-continue' is supported.").response, close: head.hasBody)
            return
        }
        if head.hasBody, let encoding = head.headers["content-encoding"], !HTTPHeaders.equalNames(String(encoding[...].trimmingASCIISpaces()), "identity") {
            respond(connection, HTTPError(status: 415, code: "unsupported_content_encoding",
                                          message: "Request bodies are taken as sent: Content-Encoding \(encoding) is not supported; send the file uncompressed.",
                                          extraHeaders: ["Accept-Encoding": "identity"]).response, close: true)
            return
        }
        switch context.router.match(method: head.method, path: String(head.rawPath)) {
        case .notFound:
            respond(connection, HTTPError(status: 404, code: "not_found", message: "No such resource.").response,
                    close: head.hasBody)
        case .methodNotAllowed(let allowed):
            let error = HTTPError(status: 405, code: "method_not_allowed",
                                  message: "\(head.method) is not allowed here.",
                                  extraHeaders: ["Allow": allowed.joined(separator: ", ")])
            respond(connection, error.response, close: head.hasBody)
        case let .found(handler, parameters, route):
            request.handler = handler
            request.route = route
            request.parameters = parameters
            request.bodyLimit = handler.isStreaming ? limits.maxStreamingBodyBytes : Int64(limits.maxBufferedBodyBytes)
            if let length = head.contentLength, length > request.bodyLimit {
                refuse(connection, request, Self.tooLarge(request.bodyLimit), close: true)
                return
            }
            if head.expectation != nil && head.version == .http1_1 && head.hasBody {
                connection.output.append(contentsOf: ResponseEncoder.continueResponse)
            }
            if case .streaming(let run) = handler {
                guard context.clientUploads.admit(request.peer) else {
                    refuse(connection, request, HTTPError(
                        status: 429, code: "too_many_uploads",
                        message: "This address has \(context.clientUploads.limit) uploads in progress: send the next when one is answered.",
                        extraHeaders: ["Retry-After": "5"]), close: head.hasBody)
                    return
                }
                request.countedAsUpload = true
                request.rateWindowStart = now
                startStreaming(connection, request, run)
            }
        }
    }

    private static func tooLarge(_ limit: Int64) -> HTTPError {
        HTTPError(status: 413, code: "body_too_large", message: "The request body is larger than \(limit) bytes.")
    }

    /// Takes body bytes parsed from the connection's buffer.
    private func receiveBody(_ connection: Connection, _ bytes: ArraySlice<UInt8>) {
        guard let request = connection.request, !request.responseSent, acceptBodyBytes(connection, request, bytes.count) else {
            return
        }
        if let stream = request.stream {
            if stream.push(Array(bytes)) { connection.pausedByStream = true }
        } else {
            request.body.append(contentsOf: bytes)
        }
    }

    /// Takes body bytes received directly (see `HTTPRequestParser.directBodyBytesExpected`).
    func receiveBody(_ connection: Connection, _ bytes: [UInt8]) {
        guard let request = connection.request, !request.responseSent, acceptBodyBytes(connection, request, bytes.count) else {
            return
        }
        if let stream = request.stream {
            if stream.push(bytes) { connection.pausedByStream = true }
        } else {
            request.body.append(contentsOf: bytes)
        }
    }

    /// Counts body bytes against the route's limit; answers 413 and returns false beyond it.
    private func acceptBodyBytes(_ connection: Connection, _ request: ActiveRequest, _ count: Int) -> Bool {
        request.bodyBytes += Int64(count)
        if request.bodyBytes > request.bodyLimit {
            if let stream = request.stream {
                // The streaming route's consumer hears of it (and counts it) as an abandoned body.
                stream.fail(Self.tooLarge(request.bodyLimit))
                respond(connection, Self.tooLarge(request.bodyLimit).response, close: true)
            } else {
                refuse(connection, request, Self.tooLarge(request.bodyLimit), close: true)
            }
            return false
        }
        return true
    }

    private func endBody(_ connection: Connection) {
        guard let request = connection.request else { return }
        request.bodyComplete = true
        if request.responseSent {
            connection.request = nil
            return
        }
        guard let handler = request.handler else { return }
        let minimumBytes = context.configuration.gzipMinimumBytes
        switch handler {
        case .immediate(let run):
            let httpRequest = HTTPRequest(head: request.head, pathParameters: request.parameters, body: request.body, peer: request.peer,
                                          requestID: request.requestID)
            request.body = []
            var response = Self.run { try run(httpRequest) }
            ResponseCompression.finish(&response, request: request.head, minimumBytes: minimumBytes)
            respond(connection, response, close: false)
        case .blocking(let run):
            let httpRequest = HTTPRequest(head: request.head, pathParameters: request.parameters, body: request.body, peer: request.peer,
                                          requestID: request.requestID)
            let mailbox = self.mailbox
            let fd = connection.fd, connectionID = connection.id, requestID = request.id
            let computeWorkers = context.computeWorkers, maxQueued = context.configuration.maxQueuedRequests
            let onRefusal = context.configuration.onRefusal
            let (route, startedAt, bodyBytes) = (request.route, request.startedAt, Int(request.bodyBytes))
            let queued = context.workers.submit(ifFewerWaitingThan: maxQueued) {
                var response = Self.run { try run(httpRequest) }
                if let work = response.computation {
                    // The answer needs real work: on the compute threads, so this one is free for quick answers.
                    let submitted = computeWorkers.submit(client: httpRequest.peer, ifFewerWaitingThan: maxQueued) {
                        var response = Self.run(work)
                        ResponseCompression.finish(&response, request: httpRequest.head, minimumBytes: minimumBytes)
                        mailbox.post(.response(fd: fd, connectionID: connectionID, requestID: requestID, response: response))
                    }
                    if let refusal = submitted.refusal {
                        onRefusal?(RefusedRequest(method: httpRequest.head.method, route: route, status: refusal.status,
                                                  seconds: Self.seconds(since: startedAt), bodyBytes: bodyBytes))
                        mailbox.post(.response(fd: fd, connectionID: connectionID, requestID: requestID, response: refusal.response))
                    }
                    return
                }
                ResponseCompression.finish(&response, request: httpRequest.head, minimumBytes: minimumBytes)
                mailbox.post(.response(fd: fd, connectionID: connectionID, requestID: requestID, response: response))
            }
            guard queued else {
                refuse(connection, request, Self.busy, close: false)
                return
            }
            request.body = []
        case .streaming:
            request.stream?.finish()
        }
    }

    private func startStreaming(_ connection: Connection, _ request: ActiveRequest,
                                _ make: @escaping @Sendable (HTTPRequest) throws -> any HTTPBodyConsumer) {
        let mailbox = self.mailbox
        let fd = connection.fd, connectionID = connection.id, requestID = request.id
        let httpRequest = HTTPRequest(head: request.head, pathParameters: request.parameters, body: [], peer: request.peer,
                                      requestID: request.requestID)
        let minimumBytes = context.configuration.gzipMinimumBytes
        let pump = BodyPump(
            contentLength: request.head.contentLength, capacity: limits.streamingQueueBytes,
            receiveWorkers: context.receiveWorkers, streamingWorkers: context.streamingWorkers,
            resumeProducer: { mailbox.post(.resumeReading(fd: fd, connectionID: connectionID)) },
            answer: { response in
                var response = response
                ResponseCompression.finish(&response, request: httpRequest.head, minimumBytes: minimumBytes)
                mailbox.post(.response(fd: fd, connectionID: connectionID, requestID: requestID, response: response))
            })
        request.stream = pump
        pump.start { try make(httpRequest) }
        if !request.head.hasBody { pump.finish() }
    }

    /// Answers a matched request without its handler, and tells `onRefusal`.
    func refuse(_ connection: Connection, _ request: ActiveRequest, _ error: HTTPError, close: Bool) {
        if !request.route.isEmpty { context.configuration.onRefusal?(RefusedRequest(method: request.head.method, route: request.route, status: error.status,
                                                        seconds: Self.seconds(since: request.startedAt),
                                                        bodyBytes: Int(request.bodyBytes))) }
        respond(connection, error.response, close: close)
    }

    private static func seconds(since startedAt: UInt64) -> Double {
        Double(Clock.nanoseconds() &- startedAt) / 1e9
    }

    /// The answer when every worker is busy and the queue is full.
    static let busy = HTTPError(status: 503, code: "busy", message: "The server is busy: try again in a moment.",
                                extraHeaders: ["Retry-After": "1"])

    /// Runs a handler, turning any error into a response; errors that are not `HTTPResponseError`
    /// become a generic 500 (logged to standard error, never shown to the client).
    static func run(_ handler: () throws -> HTTPResponse) -> HTTPResponse {
        do {
            return try handler()
        } catch let error as any HTTPResponseError {
            return error.httpError.response
        } catch {
            ServerLog.line("handler error: \(error)", severity: .error)
            return HTTPError(status: 500, code: "internal", message: "The server failed to handle the request.").response
        }
    }

    /// Queues the response of the connection's current request.
    func respond(_ connection: Connection, _ response: HTTPResponse, close: Bool) {
        guard let request = connection.request else {
            respondWithoutRequest(connection, response)
            return
        }
        request.responseSent = true
        releaseUpload(connection, request)
        let head = request.head
        // Unread body bytes would be taken for the next request: close instead.
        let bodyPending = head.hasBody && !request.bodyComplete
        let keepAlive = head.keepAlive && !close && !shuttingDown && !bodyPending
        let sentBytes = write(response, to: connection, version: head.version, keepAlive: keepAlive,
                              omitBody: head.method == "HEAD", requestID: request.requestID)
        accessLog.record(method: head.method, path: head.path, status: response.status, bytes: sentBytes,
                         nanoseconds: Clock.nanoseconds() &- request.startedAt, request: request)
        if !keepAlive { connection.closeAfterWrite = true }
        if request.bodyComplete {
            connection.request = nil
            connection.lastActivity = now
            // A streaming body refused while its queue was full leaves reading paused: the next
            // request on the connection must be read (and a late resume is then harmless).
            connection.pausedByStream = false
        }
    }

    /// Frees the client's upload slot of a request, once.
    func releaseUpload(_ connection: Connection, _ request: ActiveRequest) {
        guard request.countedAsUpload else { return }
        request.countedAsUpload = false
        context.clientUploads.release(request.peer)
    }

    /// Answers when there is no parsed request (malformed head, head timeout), then closes.
    func respondWithoutRequest(_ connection: Connection, _ response: HTTPResponse) {
        let sentBytes = write(response, to: connection, version: .http1_1, keepAlive: false, omitBody: false, requestID: nil)
        accessLog.record(method: "-", path: "-", status: response.status, bytes: sentBytes, nanoseconds: 0, request: nil)
        connection.closeAfterWrite = true
        if connection.request != nil { connection.request?.responseSent = true }
        flush(connection)
    }

    /// Encodes a response into the connection's output; returns the body bytes sent.
    private func write(_ response: HTTPResponse, to connection: Connection, version: HTTPVersion, keepAlive: Bool,
                       omitBody: Bool, requestID: String?) -> Int {
        if connection.output.capacity == 0 { connection.output.reserveCapacity(1024) }
        encoder.appendHead(response, version: version, keepAlive: keepAlive, requestID: requestID, to: &connection.output)
        if omitBody || ResponseEncoder.statusHasNoBody(response.status) { return 0 }
        connection.output.append(contentsOf: response.body)
        return response.body.count
    }
}
