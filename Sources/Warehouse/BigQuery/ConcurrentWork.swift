import Support
import Synchronization

/// Runs `count` blocking jobs (HTTP requests) on up to `width` threads, the calling thread
/// among them: threads of their own, never Swift's cooperative pool. The first error stops
/// the jobs not started yet and is thrown once all running ones are over.
enum ConcurrentWork {
    static func run(count: Int, width: Int, _ job: @escaping @Sendable (Int) throws -> Void) throws {
        guard count > 0 else { return }
        if count == 1 || width <= 1 {
            for index in 0..<count { try job(index) }
            return
        }
        let queue = Queue(count: count)
        // A helper the system refuses is simply not there: the calling thread drains the queue too.
        let helpers = (1..<min(width, count)).compactMap { _ in PThread.tryStart { queue.drain(job) } }
        queue.drain(job)
        helpers.forEach(PThread.join)
        if let error = queue.firstError { throw error }
    }

    /// The next job to take, and the first failure.
    private final class Queue: Sendable {
        private let state: Mutex<(next: Int, error: (any Error)?)>
        let count: Int

        init(count: Int) {
            self.count = count
            state = Mutex((0, nil))
        }

        var firstError: (any Error)? { state.withLock { $0.error } }

        func drain(_ job: @Sendable (Int) throws -> Void) {
            while true {
                let index = state.withLock { state -> Int? in
                    guard state.error == nil, state.next < count else { return nil }
                    defer { state.next += 1 }
                    return state.next
                }
                guard let index else { return }
                do { try job(index) } catch {
                    state.withLock { if $0.error == nil { $0.error = error } }
                }
            }
        }
    }
}
