/// Takes the body of a streaming request in pieces, as they arrive.
///
/// The server calls it on worker threads, one call at a time and never concurrently, and only
/// while there are bytes to take: a client that sends slowly holds memory and a descriptor,
/// never a thread. `consume` must not wait for anything but the local disk.
import Support

public protocol HTTPBodyConsumer: AnyObject {
    /// The next bytes of the body, in order.
    func consume(_ bytes: UnsafeRawBufferPointer) throws
    /// Called once after the last byte, on a streaming worker: the answer. May block for long
    /// (storing and loading a file). Releases what the consumer holds, whatever it returns.
    func finish() throws -> HTTPResponse
    /// Called instead of `finish` when the body will not complete (the client went away, was too
    /// slow, sent too much) or `consume` threw: release what is held. `reason` is what the client was told.
    func abandon(_ reason: HTTPError)
}

/// A consumer that drops the body and answers with `answer` (routes that take no body but run
/// on the streaming workers, such as long deletions).
public final class BodyDiscardingConsumer: HTTPBodyConsumer {
    private let answer: () throws -> HTTPResponse

    public init(answer: @escaping () throws -> HTTPResponse) {
        self.answer = answer
    }

    public func consume(_ bytes: UnsafeRawBufferPointer) {}
    public func finish() throws -> HTTPResponse { try answer() }
    public func abandon(_ reason: HTTPError) {}
}

/// Moves a streaming body from its event loop (producer) to its consumer, a job at a time.
///
/// The loop queues chunks; when the consumer is ready and bytes wait, one drain job is submitted
/// to the receive workers and takes what is queued (at most `drainBudgetBytes` before it yields
/// its thread to other bodies). When the queue holds `capacity` bytes the loop stops reading the
/// socket until a drain takes it below half. After the last byte the consumer's `finish` runs
/// on the streaming workers. No job ever waits for the network.
final class BodyPump: @unchecked Sendable {
    // Safe: every mutable property is only touched with `lock` held, except `consumer`'s methods,
    // which only the one job that owns the pump's `phase` (draining, finishing or abandoning) calls.
    private enum Phase {
        /// The route is still making its consumer (access checks, the body's framing).
        case starting
        /// Waiting for bytes.
        case idle
        /// A drain job is queued or running.
        case draining
        /// `finish` or `abandon` was called, or the request was refused before a consumer existed.
        case over
    }

    let contentLength: Int64?
    private let capacity: Int
    private let resumeProducer: @Sendable () -> Void
    private let receiveWorkers: WorkerPool
    private let streamingWorkers: WorkerPool
    private let answer: @Sendable (HTTPResponse) -> Void
    private let lock = ConditionLock()
    private var phase = Phase.starting
    private var consumer: (any HTTPBodyConsumer)?
    private var chunks: [[UInt8]] = []
    private var queuedBytes = 0
    private var ended = false
    private var failure: HTTPError?
    private var producerPaused = false
    /// Bytes one drain job takes before it lets other bodies have its thread.
    static let drainBudgetBytes = 4 << 20

    /// `answer` is called once with the response, from a worker thread.
    init(contentLength: Int64?, capacity: Int, receiveWorkers: WorkerPool, streamingWorkers: WorkerPool,
         resumeProducer: @escaping @Sendable () -> Void, answer: @escaping @Sendable (HTTPResponse) -> Void) {
        self.contentLength = contentLength
        self.capacity = capacity
        self.receiveWorkers = receiveWorkers
        self.streamingWorkers = streamingWorkers
        self.resumeProducer = resumeProducer
        self.answer = answer
    }

    // MARK: Starting (a receive worker)

    /// Makes the consumer on a receive worker; a refusal is the answer and nothing is read.
    func start(_ make: @escaping @Sendable () throws -> any HTTPBodyConsumer) {
        receiveWorkers.submit { [self] in
            let made: any HTTPBodyConsumer
            do {
                made = try make()
            } catch {
                lock.withLock {
                    phase = .over
                    producerPaused = false
                }
                answer(EventLoop.run { throw error })
                return
            }
            let (failed, drain) = lock.withLock { () -> (HTTPError?, Bool) in
                if let failure {
                    phase = .over
                    return (failure, false)
                }
                consumer = made
                phase = .idle
                return (nil, scheduleDrainLocked())
            }
            if let failed { made.abandon(failed) }
            if drain { submitDrain() }
        }
    }

    // MARK: Producer (event loop)

    /// Queues bytes; returns true when the producer must pause until `resumeProducer` is called.
    func push(_ bytes: [UInt8]) -> Bool {
        var pause = false
        let drain = lock.withLock { () -> Bool in
            if phase == .over || ended || failure != nil { return false }
            chunks.append(bytes)
            queuedBytes += bytes.count
            if queuedBytes >= capacity {
                producerPaused = true
                pause = true
            }
            return scheduleDrainLocked()
        }
        if drain { submitDrain() }
        return pause
    }

    /// Marks the end of the body.
    func finish() {
        let drain = lock.withLock { () -> Bool in
            if failure != nil { return false }
            ended = true
            return scheduleDrainLocked()
        }
        if drain { submitDrain() }
    }

    /// The body will not complete: the consumer is abandoned (now, or by the job that holds it).
    func fail(_ error: HTTPError) {
        let idleConsumer = lock.withLock { () -> (any HTTPBodyConsumer)? in
            if phase == .over || ended || failure != nil { return nil }
            failure = error
            chunks.removeAll()
            queuedBytes = 0
            guard phase == .idle else { return nil }
            phase = .over
            return consumer
        }
        if let idleConsumer {
            // Abandoning may delete files: not on the loop.
            let box = ConsumerBox(consumer: idleConsumer)
            receiveWorkers.submit { box.consumer.abandon(error) }
        }
    }

    // MARK: Draining (receive workers)

    /// With the lock held: moves to `draining` when a drain job is due; true when one must be submitted.
    private func scheduleDrainLocked() -> Bool {
        guard phase == .idle, consumer != nil, !chunks.isEmpty || ended else { return false }
        phase = .draining
        return true
    }

    private func submitDrain() {
        receiveWorkers.submit { [self] in drain() }
    }

    private enum Step {
        case consume([[UInt8]])
        case finish(any HTTPBodyConsumer)
        case abandon(any HTTPBodyConsumer, HTTPError)
        case wait
    }

    private func drain() {
        var budget = Self.drainBudgetBytes
        while true {
            var wakeProducer = false
            let step = lock.withLock { () -> Step in
                if let failure {
                    phase = .over
                    return consumer.map { .abandon($0, failure) } ?? .wait
                }
                if chunks.isEmpty {
                    if ended, let consumer {
                        phase = .over
                        return .finish(consumer)
                    }
                    phase = .idle
                    return .wait
                }
                let taken = chunks
                chunks.removeAll(keepingCapacity: true)
                queuedBytes = 0
                if producerPaused {
                    producerPaused = false
                    wakeProducer = true
                }
                return .consume(taken)
            }
            if wakeProducer { resumeProducer() }
            switch step {
            case .wait:
                return
            case .abandon(let consumer, let reason):
                consumer.abandon(reason)
                return
            case .finish(let consumer):
                let box = ConsumerBox(consumer: consumer)
                streamingWorkers.submit { [answer] in answer(EventLoop.run { try box.consumer.finish() }) }
                return
            case .consume(let taken):
                guard let consumer = lock.withLock({ self.consumer }) else { return }
                do {
                    for chunk in taken {
                        try chunk.withUnsafeBytes { try consumer.consume($0) }
                        budget -= chunk.count
                    }
                } catch {
                    let response = EventLoop.run { throw error }
                    let reason = HTTPError.answering(error)
                        ?? HTTPError(status: response.status, code: "internal", message: "The server failed to handle the request.")
                    lock.withLock {
                        phase = .over
                        failure = reason
                        chunks.removeAll()
                        queuedBytes = 0
                        producerPaused = false
                    }
                    consumer.abandon(reason)
                    answer(response)
                    return
                }
                if budget <= 0 {
                    // Still `draining`: the next job carries on after the other bodies' turns.
                    submitDrain()
                    return
                }
            }
        }
    }
}

/// Hands a consumer to the one job that uses it next.
private struct ConsumerBox: @unchecked Sendable {
    // Safe: the pump's phase gives the consumer to exactly one job at a time.
    let consumer: any HTTPBodyConsumer
}
