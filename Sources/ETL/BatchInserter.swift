// A thread that stores batches in the warehouse, one at a time, while the load goes on
// reading and cleaning the next batch.

import Glibc
import Support

/// Hands batches to `RowSink.insert` on a thread of its own, with at most one batch in
/// flight: `submit` gives it a batch, `collect` waits for that batch's result. So reading and
/// cleaning batch N+1 overlaps storing batch N, and memory stays bounded to two batches.
///
/// `@unchecked Sendable`: `pending`, `outcome` and `stopping` are handed between the two
/// threads only through the semaphores. The loading thread writes `pending` (or `stopping`),
/// then posts `work`; the insert thread reads them after waiting on `work`, writes `outcome`,
/// drops its hold on the batch, then posts `done`; the loading thread reads `outcome` after
/// waiting on `done`. Between those points only one thread touches a field.
final class BatchInserter: @unchecked Sendable {
    private let warehouse: any RowSink
    private let context: UploadContext
    private var pending: [OrderRow] = []
    private var pendingPrepared: (any PreparedBatch)?
    private var outcome: Result<InsertResult, any Error>?
    private var stopping = false
    private let work: UnsafeMutablePointer<sem_t>
    private let done: UnsafeMutablePointer<sem_t>
    private var thread: pthread_t?
    /// True between `submit` and `collect`.
    private(set) var inFlight = false

    /// Starts the insert thread; nil when no thread can be started (the caller inserts inline).
    init?(warehouse: any RowSink, context: UploadContext) {
        self.warehouse = warehouse
        self.context = context
        work = .allocate(capacity: 1)
        done = .allocate(capacity: 1)
        sem_init(work, 0, 0)
        sem_init(done, 0, 0)
        guard let handle = PThread.tryStart({ [self] in serve() }) else { return nil }
        thread = handle
    }

    deinit {
        sem_destroy(work)
        sem_destroy(done)
        work.deallocate()
        done.deallocate()
    }

    /// Gives the insert thread a batch; call only when nothing is in flight.
    func submit(_ rows: [OrderRow], prepared: (any PreparedBatch)? = nil) {
        precondition(!inFlight, "a batch is already being stored")
        pending = rows
        pendingPrepared = prepared
        inFlight = true
        sem_post(work)
    }

    /// Waits for the batch in flight and returns what the warehouse did with it.
    func collect() -> Result<InsertResult, any Error> {
        precondition(inFlight, "no batch is being stored")
        while sem_wait(done) != 0 {}
        inFlight = false
        let result = outcome!
        outcome = nil
        return result
    }

    /// Waits for the batch in flight (its result is dropped) and ends the thread.
    func close() {
        if inFlight { _ = collect() }
        guard let thread else { return }
        stopping = true
        sem_post(work)
        PThread.join(thread)
        self.thread = nil
    }

    private func serve() {
        while true {
            while sem_wait(work) != 0 {}
            if stopping { return }
            storePending()
            sem_post(done)
        }
    }

    /// Stores the pending batch; the batch is released on return, before the result is handed back.
    private func storePending() {
        let rows = pending
        let prepared = pendingPrepared
        pending = []
        pendingPrepared = nil
        do {
            outcome = .success(try warehouse.insert(rows, for: context, prepared: prepared))
        } catch {
            outcome = .failure(error)
        }
    }
}
