import Glibc
import Support

/// The threads that run `HTTPResponse.computed(by:)` work, shared fairly between clients.
///
/// Each client address has a usage: the seconds its computations held a thread (CPU for a scan
/// in SQLite, waiting for BigQuery's answer), halved every `halfLifeSeconds`. A free thread takes the waiting job of the client with the least usage
/// (the oldest among equals), so a client that asks now and then goes before clients that keep
/// the threads busy. With two threads or more, one is kept for light clients: those under
/// `lightUsageSeconds`, or at most a quarter of the heaviest client with work waiting or
/// running. However many heavy questions others ask, a light client's question starts at once.
/// The threads run at `niceness`, below the event loops and uploads.
final class ComputePool: @unchecked Sendable {
    // Safe: `jobs`, `usage`, `running` and `stopping` are only touched with `lock` held.
    private struct Job {
        let client: UInt32
        let work: @Sendable () -> Void
    }

    private struct Usage {
        var seconds: Double
        var at: UInt64
    }

    private let lock = ConditionLock()
    private var jobs: [Job] = []
    private var usage: [UInt32: Usage] = [:]
    private var running = 0
    /// Computations running now, per client.
    private var runningClients: [UInt32: Int] = [:]
    /// Computations waiting, per client.
    private var waitingPerClient: [UInt32: Int] = [:]
    let maxWaitingPerClient: Int
    private var stopping = false
    let threadCount: Int
    let halfLifeSeconds: Double
    let lightUsageSeconds: Double

    init(threadCount: Int, niceness: Int32 = 0, maxWaitingPerClient: Int = 8, halfLifeSeconds: Double = 10,
         lightUsageSeconds: Double = 0.1) {
        self.threadCount = max(1, threadCount)
        self.maxWaitingPerClient = max(1, maxWaitingPerClient)
        self.halfLifeSeconds = halfLifeSeconds
        self.lightUsageSeconds = lightUsageSeconds
        for index in 0..<self.threadCount {
            let keptForLightClients = self.threadCount > 1 && index == 0
            pthread_detach(PThread.start { [self] in
                if niceness > 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness) }
                runWorker(onlyLight: keptForLightClients)
            })
        }
    }

    /// Jobs waiting, and jobs running.
    var load: (queued: Int, running: Int) { lock.withLock { (jobs.count, running) } }

    /// What `submit` did: queued, or refused with the answer to give instead.
    struct Submission {
        /// nil when the work was queued.
        let refusal: HTTPError?
    }

    /// Queues `work` for `client` unless `limit` jobs already wait (503 busy) or the client has
    /// `maxWaitingPerClient` waiting already (429: one address cannot fill the queue for all).
    func submit(client: UInt32, ifFewerWaitingThan limit: Int, _ work: @escaping @Sendable () -> Void) -> Submission {
        lock.withLock {
            guard jobs.count < limit else { return Submission(refusal: EventLoop.busy) }
            guard waitingPerClient[client, default: 0] < maxWaitingPerClient else {
                return Submission(refusal: HTTPError(
                    status: 429, code: "too_many_queries",
                    message: "this address has \(maxWaitingPerClient) questions waiting to be computed; ask again when one is answered",
                    extraHeaders: ["Retry-After": "1"]))
            }
            jobs.append(Job(client: client, work: work))
            waitingPerClient[client, default: 0] += 1
            lock.broadcast()
            return Submission(refusal: nil)
        }
    }

    /// Lets the threads finish what is queued, then exit.
    func stop() {
        lock.withLock {
            stopping = true
            lock.broadcast()
        }
    }

    /// The client's usage now (decayed); call with the lock held.
    private func currentUsage(_ client: UInt32, now: UInt64) -> Double {
        guard let entry = usage[client] else { return 0 }
        let elapsed = Double(now &- entry.at) / 1e9
        return entry.seconds * exp2(-elapsed / halfLifeSeconds)
    }

    /// The index of the job to run next, or nil; call with the lock held.
    private func pick(onlyLight: Bool, now: UInt64) -> Int? {
        var heaviest = 0.0
        if onlyLight {
            for client in runningClients.keys { heaviest = max(heaviest, currentUsage(client, now: now)) }
            for job in jobs { heaviest = max(heaviest, currentUsage(job.client, now: now)) }
        }
        var best: (index: Int, usage: Double)?
        for (index, job) in jobs.enumerated() {
            let used = currentUsage(job.client, now: now)
            if onlyLight && used >= lightUsageSeconds && used * 4 > heaviest { continue }
            if best == nil || used < best!.usage { best = (index, used) }
        }
        return best?.index
    }

    private func runWorker(onlyLight: Bool) {
        while true {
            let job: Job? = lock.withLock {
                while true {
                    if let index = pick(onlyLight: onlyLight, now: Clock.nanoseconds()) {
                        running += 1
                        let job = jobs.remove(at: index)
                        runningClients[job.client, default: 0] += 1
                        let waiting = waitingPerClient[job.client, default: 1] - 1
                        waitingPerClient[job.client] = waiting > 0 ? waiting : nil
                        return job
                    }
                    if stopping && (jobs.isEmpty || onlyLight) { return nil }
                    lock.wait()
                }
            }
            guard let job else { return }
            let started = Clock.nanoseconds()
            job.work()
            let spent = Double(Clock.nanoseconds() &- started) / 1e9
            lock.withLock {
                running -= 1
                let left = runningClients[job.client, default: 1] - 1
                runningClients[job.client] = left > 0 ? left : nil
                let now = Clock.nanoseconds()
                usage[job.client] = Usage(seconds: currentUsage(job.client, now: now) + spent, at: now)
                if usage.count > 4096 {
                    // Forget clients whose usage has faded.
                    usage = usage.filter { currentUsage($0.key, now: now) >= 0.001 }
                }
                // A job another thread passed over may now be light enough for this one.
                lock.broadcast()
            }
        }
    }

    /// CPU time of the calling thread (for tests that must spend some).
    static func threadCPUNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
