// One way to run blocking work off Swift's cooperative pool: pthreads, a lock with a
// condition, and a fixed pool of workers.

import Glibc

/// A pthread mutex with one condition variable, for threads that must sleep until something changes.
public final class ConditionLock: @unchecked Sendable {
    // Safe: the pthread objects are allocated once, never moved, and only used through pthread calls.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    public init() {
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
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Sleeps until signalled; call with the mutex held (inside `withLock`).
    public func wait() {
        pthread_cond_wait(condition, mutex)
    }

    /// Sleeps until signalled or until the monotonic deadline (nanoseconds); returns false on timeout.
    public func wait(untilNanoseconds deadline: UInt64) -> Bool {
        var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        return pthread_cond_timedwait(condition, mutex, &time) == 0
    }

    /// Wakes every waiting thread; call with the mutex held.
    public func broadcast() {
        pthread_cond_broadcast(condition)
    }

    /// Wakes one waiting thread; call with the mutex held.
    public func signal() {
        pthread_cond_signal(condition)
    }
}

/// Threads of our own (never Swift's cooperative pool), for work that blocks: accept, recv,
/// epoll_wait, curl, sqlite. A niceness above 0 lowers the new thread's CPU priority (Linux
/// sets it per thread), so such work takes the cores that loops and quick answers leave.
public enum PThread {
    private final class Box {
        let niceness: Int32
        let body: () -> Void
        init(niceness: Int32, _ body: @escaping () -> Void) {
            self.niceness = niceness
            self.body = body
        }
    }

    /// Starts a joinable thread; nil when the system refuses one (too many threads, no memory).
    public static func tryStart(niceness: Int32 = 0, _ body: @escaping @Sendable () -> Void) -> pthread_t? {
        try? create(niceness: niceness, body).get()
    }

    /// Starts a joinable thread; a process that cannot start one stops here.
    public static func start(niceness: Int32 = 0, _ body: @escaping @Sendable () -> Void) -> pthread_t {
        switch create(niceness: niceness, body) {
        case .success(let thread): return thread
        case .failure(let error): fatalError("pthread_create failed: \(String(cString: strerror(error.code)))")
        }
    }

    /// Why a thread could not start: `pthread_create`'s return code (it does not set errno).
    public struct StartError: Error { public let code: Int32 }

    private static func create(niceness: Int32, _ body: @escaping @Sendable () -> Void) -> Result<pthread_t, StartError> {
        let box = Unmanaged.passRetained(Box(niceness: niceness, body))
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, threadEntry, box.toOpaque())
        guard status == 0 else {
            box.release()
            return .failure(StartError(code: status))
        }
        return .success(thread)
    }

    /// Starts a thread nobody joins: it ends when `body` returns.
    public static func detach(niceness: Int32 = 0, _ body: @escaping @Sendable () -> Void) {
        pthread_detach(start(niceness: niceness, body))
    }

    /// Sleeps the calling thread for `seconds` (resumed after a signal handler runs).
    public static func sleep(seconds: Double) {
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    /// Waits for a thread started with `start` or `tryStart` to end.
    public static func join(_ thread: pthread_t) {
        pthread_join(thread, nil)
    }

    fileprivate static func run(_ pointer: UnsafeMutableRawPointer) {
        let box = Unmanaged<Box>.fromOpaque(pointer).takeRetainedValue()
        if box.niceness > 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, box.niceness) }
        box.body()
    }
}

private nonisolated func threadEntry(_ pointer: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    PThread.run(pointer!)
    return nil
}

/// A fixed pool of pthreads running blocking work (handlers) off the event loops.
public final class WorkerPool: @unchecked Sendable {
    // Safe: `jobs`, `head` and `stopping` are only touched with `lock` held.
    private let lock = ConditionLock()
    private var jobs: [(@Sendable () -> Void)?] = []
    private var head = 0
    private var stopping = false
    private var running = 0
    /// Worker threads.
    public let threadCount: Int

    /// `niceness` above 0 lowers the threads' CPU priority (Linux sets it per thread).
    public init(threadCount: Int, niceness: Int32 = 0) {
        self.threadCount = max(1, threadCount)
        for _ in 0..<max(1, threadCount) {
            PThread.detach(niceness: niceness) { [self] in runWorker() }
        }
    }

    /// Jobs waiting for a worker, and jobs running.
    public var load: (queued: Int, running: Int) { lock.withLock { (jobs.count - head, running) } }

    /// Queues a job; it runs on the next free worker.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        lock.withLock {
            jobs.append(job)
            lock.signal()
        }
    }

    /// Queues a job unless `limit` jobs already wait; false when refused. One check and one
    /// append under the lock, so loops submitting at once cannot pass the limit together.
    public func submit(ifFewerWaitingThan limit: Int, _ job: @escaping @Sendable () -> Void) -> Bool {
        lock.withLock {
            guard jobs.count - head < limit else { return false }
            jobs.append(job)
            lock.signal()
            return true
        }
    }

    /// Lets the workers finish queued jobs, then exit (without waiting: a handler may still be running).
    public func stop() {
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
