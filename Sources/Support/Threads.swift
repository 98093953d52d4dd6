import Glibc

/// A pthread mutex with one condition variable, for threads that must sleep until something changes.
final class ConditionLock: @unchecked Sendable {
    // Safe: the pthread objects are allocated once, never moved, and only used through pthread calls.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Runs `body` with the mutex held.
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Sleeps until signalled; call with the mutex held (inside `withLock`).
    func wait() {
        pthread_cond_wait(condition, mutex)
    }

    /// Sleeps until signalled or until the monotonic deadline (nanoseconds); returns false on timeout.
    func wait(untilNanoseconds deadline: UInt64) -> Bool {
        var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        return pthread_cond_timedwait(condition, mutex, &time) == 0
    }

    /// Wakes every waiting thread; call with the mutex held.
    func broadcast() {
        pthread_cond_broadcast(condition)
    }

    /// Wakes one waiting thread; call with the mutex held.
    func signal() {
        pthread_cond_signal(condition)
    }
}

/// Monotonic clock readings.
enum Clock {
    /// Nanoseconds on the monotonic clock.
    static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Milliseconds on the coarse monotonic clock (cheap; a few ms resolution).
    static func coarseMilliseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &time)
        return UInt64(time.tv_sec) * 1000 + UInt64(time.tv_nsec) / 1_000_000
    }
}

/// Starts a detached-or-joinable pthread running `body` (never Swift's cooperative pool).
enum PThread {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts a joinable thread.
    static func start(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, threadEntry, box)
        precondition(result == 0, "pthread_create failed: \(result)")
        return thread
    }

    fileprivate static func run(_ pointer: UnsafeMutableRawPointer) {
        let box = Unmanaged<Box>.fromOpaque(pointer).takeRetainedValue()
        box.body()
    }
}

private nonisolated func threadEntry(_ pointer: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    PThread.run(pointer!)
    return nil
}

/// A fixed pool of pthreads running blocking work (handlers) off the event loops.
final class WorkerPool: @unchecked Sendable {
    // Safe: `jobs`, `head` and `stopping` are only touched with `lock` held.
    private let lock = ConditionLock()
    private var jobs: [(@Sendable () -> Void)?] = []
    private var head = 0
    private var stopping = false
    private var running = 0
    /// Worker threads.
    let threadCount: Int

    /// `niceness` above 0 lowers the threads' CPU priority (Linux sets it per thread).
    init(threadCount: Int, niceness: Int32 = 0) {
        self.threadCount = max(1, threadCount)
        for _ in 0..<max(1, threadCount) {
            pthread_detach(PThread.start { [self] in
                if niceness > 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness) }
                self.runWorker()
            })
        }
    }

    /// Jobs waiting for a worker, and jobs running.
    var load: (queued: Int, running: Int) { lock.withLock { (jobs.count - head, running) } }

    /// Queues a job; it runs on the next free worker.
    func submit(_ job: @escaping @Sendable () -> Void) {
        lock.withLock {
            jobs.append(job)
            lock.signal()
        }
    }

    /// Queues a job unless `limit` jobs already wait; false when refused. One check and one
    /// append under the lock, so loops submitting at once cannot pass the limit together.
    func submit(ifFewerWaitingThan limit: Int, _ job: @escaping @Sendable () -> Void) -> Bool {
        lock.withLock {
            guard jobs.count - head < limit else { return false }
            jobs.append(job)
            lock.signal()
            return true
        }
    }

    /// Lets the workers finish queued jobs, then exit (without waiting: a handler may still be running).
    func stop() {
        lock.withLock {
            stopping = true
            lock.broadcast()
        }
    }

    private func runWorker() {
        while true {
            let job: (@Sendable () -> Void)? = lock.withLock {
                while head == jobs.count && !stopping { lock.wait() }
                if head == jobs.count { return nil }
                let job = jobs[head]
                jobs[head] = nil
                head += 1
                if head == jobs.count {
                    jobs.removeAll(keepingCapacity: true)
                    head = 0
                }
                running += 1
                return job
            }
            guard let job else { return }
            job()
            lock.withLock { running -= 1 }
        }
    }
}
