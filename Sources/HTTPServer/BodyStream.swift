import Synchronization

/// The body of a streaming request, read by its handler on a worker thread.
public protocol HTTPBodyReader: AnyObject {
    /// The declared Content-Length, or nil for a chunked body.
    var contentLength: Int64? { get }
    /// The next bytes of the body, blocking until some arrive; nil at the end of the body.
    /// Throws `HTTPError` (400 "incomplete_body") when the client goes away or stalls before the end.
    func read() throws(HTTPError) -> [UInt8]?
}

extension HTTPBodyReader {
    /// Reads the whole remaining body into memory, failing with 413 beyond `limit` bytes.
    public func readAll(limit: Int) throws(HTTPError) -> [UInt8] {
        var all: [UInt8] = []
        while let chunk = try read() {
            if all.count + chunk.count > limit {
                throw HTTPError(status: 413, code: "body_too_large", message: "The request body is larger than \(limit) bytes.")
            }
            all.append(contentsOf: chunk)
        }
        return all
    }
}

/// A bounded queue of body chunks between an event loop (producer) and a worker (consumer).
///
/// When the queue holds `capacity` bytes or more the loop stops reading the socket; when the
/// worker has drained it below half, `resumeProducer` asks the loop to read again.
final class BodyStream: HTTPBodyReader, @unchecked Sendable {
    // Safe: every mutable property is only touched with `lock` held.
    let contentLength: Int64?
    private let capacity: Int
    private let resumeProducer: @Sendable () -> Void
    private let lock = ConditionLock()
    private var chunks: [[UInt8]] = []
    private var head = 0
    private var queuedBytes = 0
    private var finished = false
    private var failure: HTTPError?
    private var producerPaused = false
    private var consumerGone = false

    init(contentLength: Int64?, capacity: Int, resumeProducer: @escaping @Sendable () -> Void) {
        self.contentLength = contentLength
        self.capacity = capacity
        self.resumeProducer = resumeProducer
    }

    // MARK: Producer (event loop)

    /// Queues bytes; returns true when the producer must pause until `resumeProducer` is called.
    func push(_ bytes: [UInt8]) -> Bool {
        lock.withLock {
            if consumerGone || finished || failure != nil { return false }
            chunks.append(bytes)
            queuedBytes += bytes.count
            lock.signal()
            if queuedBytes >= capacity {
                producerPaused = true
                return true
            }
            return false
        }
    }

    /// Marks the end of the body.
    func finish() {
        lock.withLock {
            finished = true
            lock.broadcast()
        }
    }

    /// Makes pending and future reads (after the queued bytes) throw.
    func fail(_ error: HTTPError) {
        lock.withLock {
            if finished { return }
            failure = error
            lock.broadcast()
        }
    }

    /// Whether the producer is paused waiting for the consumer.
    var isProducerPaused: Bool { lock.withLock { producerPaused } }

    // MARK: Consumer (worker)

    func read() throws(HTTPError) -> [UInt8]? {
        var wakeProducer = false
        let result: Result<[UInt8]?, HTTPError> = lock.withLock {
            while head == chunks.count && !finished && failure == nil { lock.wait() }
            if head < chunks.count {
                let chunk = chunks[head]
                chunks[head] = []
                head += 1
                if head == chunks.count {
                    chunks.removeAll(keepingCapacity: true)
                    head = 0
                }
                queuedBytes -= chunk.count
                if producerPaused && queuedBytes < capacity / 2 {
                    producerPaused = false
                    wakeProducer = true
                }
                return .success(chunk)
            }
            if let failure { return .failure(failure) }
            return .success(nil)
        }
        if wakeProducer { resumeProducer() }
        return try result.get()
    }

    /// Called when the handler returned: later pushes are dropped.
    func consumerFinished() {
        lock.withLock {
            consumerGone = true
            chunks.removeAll()
            head = 0
            queuedBytes = 0
        }
    }
}
