import Glibc
import Support
import Synchronization
import Testing

/// Threads of our own: started, lowered in priority when asked, joined; a pool that runs every job.
@Suite struct ThreadsTests {
    @Test func aThreadRunsAtTheNicenessAskedAndIsJoined() throws {
        let seen = Mutex<Int32?>(nil)
        let before = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        let thread = try #require(PThread.tryStart(niceness: 7) {
            // On Linux, PRIO_PROCESS with 0 reads the calling thread's nice value.
            let value = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
            seen.withLock { $0 = value }
        })
        PThread.join(thread)
        #expect(seen.withLock { $0 } == min(19, before + 7))
        #expect(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) == before, "the caller keeps its priority")
    }

    final class Counts: Sendable {
        let done = Atomic<Int>(0)
        let open = Atomic<Bool>(false)
    }

    @Test func aPoolRunsEveryJobAndRefusesPastItsWaitingLimit() {
        let pool = WorkerPool(threadCount: 3)
        let counts = Counts()
        let gate = ConditionLock()
        // Three jobs hold the three workers until the gate opens; the rest wait in the queue.
        for _ in 0..<3 {
            pool.submit {
                gate.withLock { while !counts.open.load(ordering: .relaxed) { gate.wait() } }
                counts.done.add(1, ordering: .relaxed)
            }
        }
        let started = Clock.nanoseconds() + 30_000_000_000
        while pool.load.running < 3 && Clock.nanoseconds() < started { PThread.sleep(seconds: 0.001) }
        #expect(pool.load.queued == 0 && pool.load.running == 3, "the three gated jobs hold the three workers")
        var accepted = 0
        for _ in 0..<10 where pool.submit(ifFewerWaitingThan: 4, { counts.done.add(1, ordering: .relaxed) }) { accepted += 1 }
        #expect(accepted == 4)
        gate.withLock { counts.open.store(true, ordering: .relaxed); gate.broadcast() }
        let deadline = Clock.nanoseconds() + 30_000_000_000
        while counts.done.load(ordering: .relaxed) < 7 && Clock.nanoseconds() < deadline { PThread.sleep(seconds: 0.001) }
        #expect(counts.done.load(ordering: .relaxed) == 7)
        pool.stop()
    }

    @Test func timestampsAreRFC3339InUTCWithMicroseconds() {
        // 2011-12-09T12:50:00.000042Z
        #expect(Clock.isoTimestamp(micros: 1_323_435_000_000_042) == "2011-12-09T12:50:00.000042Z")
        #expect(Clock.utcDate(micros: 1_323_435_000_000_042) == (2011, 12, 9))
        #expect(Clock.isoTimestamp(micros: 0) == "1970-01-01T00:00:00.000000Z")
    }

    @Test func percentEncodingKeepsOnlyUnreservedAndWhatIsAsked() {
        #expect(PercentEncoding.encode("uploads/IN/a b+é?.csv") == "uploads%2FIN%2Fa%20b%2B%C3%A9%3F.csv")
        #expect(PercentEncoding.encode("/dashboard?x=1", keeping: [UInt8(ascii: "/")]) == "/dashboard%3Fx%3D1")
        #expect(PercentEncoding.query([("name", "a/b"), ("x", "~-._")]) == "name=a%2Fb&x=~-._")
    }
}
