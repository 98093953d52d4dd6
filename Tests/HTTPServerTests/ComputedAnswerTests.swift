import Glibc
import Synchronization
import Testing
@testable import HTTPServer

/// Answers made with `HTTPResponse.computed(by:)` run on the compute threads, so a blocking
/// handler's thread is free at once for answers that need no such work.
@Suite struct ComputedAnswerTests {
    /// Computations held until the test lets them go; how many started.
    final class Hold: Sendable {
        let started = Atomic<Int>(0)
        let released = Atomic<Bool>(false)

        func wait() {
            started.add(1, ordering: .relaxed)
            for _ in 0..<3000 where !released.load(ordering: .relaxed) { usleep(10_000) }
        }
    }

    /// What the pool's jobs did.
    final class Counts: Sendable {
        let done = Atomic<Int>(0)
        let lightDone = Atomic<Bool>(false)
    }

    private func withComputingServer(_ hold: Hold, _ body: (Int) throws -> Void) throws {
        var router = Router()
        router.get("/quick", .blocking { _ in .text("quick") })
        router.get("/expensive", .blocking { request in
            let id = request.head.queryValue("id") ?? ""
            return .computed {
                hold.wait()
                return .text(201, "computed \(id)")
            }
        })
        router.get("/refused", .blocking { _ in
            .computed { throw HTTPError(status: 429, code: "too_many", message: "later") }
        })
        var configuration = HTTPServerConfiguration(port: 0, eventLoopThreads: 1, workerThreads: 1, accessLog: false)
        configuration.computeWorkerThreads = 2
        configuration.timeouts = HTTPTimeouts(requestHead: 5000, bodyInactivity: 5000, idleKeepAlive: 30_000, write: 5000)
        let server = HTTPServer(configuration: configuration, router: router)
        let port = try server.start()
        defer {
            hold.released.store(true, ordering: .relaxed)
            server.shutdown(gracePeriodMilliseconds: 1000)
        }
        try body(port)
    }

    @Test func quickAnswersDoNotWaitBehindComputations() throws {
        // One handler thread and two compute threads, both held by computations, a third waiting:
        // the handler thread still answers at once.
        let hold = Hold()
        try withComputingServer(hold) { port in
            let clients = try (0..<3).map { _ in try TestClient(port: port, timeoutMilliseconds: 30_000) }
            for (index, client) in clients.enumerated() {
                try client.send("GET /expensive?id=\(index) HTTP/1.1\r\nHost: t\r\n\r\n")
            }
            for _ in 0..<3000 where hold.started.load(ordering: .relaxed) < 2 { usleep(1000) }
            #expect(hold.started.load(ordering: .relaxed) == 2, "the compute threads never took the work")
            let quick = try request(port, "GET /quick HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(quick.status == 200 && quick.text == "quick")
            #expect(hold.started.load(ordering: .relaxed) == 2, "answered while both computations were still held")
            hold.released.store(true, ordering: .relaxed)
            for (index, client) in clients.enumerated() {
                let answer = try client.readResponse()
                #expect(answer.status == 201 && answer.text == "computed \(index)")
            }
        }
    }

    @Test func aComputationsErrorIsTheAnswer() throws {
        try withComputingServer(Hold()) { port in
            let refused = try request(port, "GET /refused HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(refused.status == 429)
            #expect(refused.text.contains("too_many"))
        }
    }

    @Test func aLightClientsQuestionStartsAtOnceWhileAHeavyClientHoldsTheOtherThreads() throws {
        let pool = ComputePool(threadCount: 2, halfLifeSeconds: 600, lightUsageSeconds: 0.01)
        defer { pool.stop() }
        let heavy: UInt32 = 1, light: UInt32 = 2
        let counts = Counts()
        // The heavy client's first question burns 30 ms of CPU: its usage is over the light line.
        #expect(pool.submit(client: heavy, ifFewerWaitingThan: 100) {
            let start = ComputePool.threadCPUNanoseconds()
            while ComputePool.threadCPUNanoseconds() - start < 30_000_000 {}
            counts.done.add(1, ordering: .relaxed)
        }.refusal == nil)
        for _ in 0..<3000 where counts.done.load(ordering: .relaxed) < 1 { usleep(1000) }
        // Then three questions that hold a thread until released: one runs, two wait, because
        // the other thread is kept for light clients.
        let hold = Hold()
        for _ in 0..<3 {
            #expect(pool.submit(client: heavy, ifFewerWaitingThan: 100) { hold.wait(); counts.done.add(1, ordering: .relaxed) }.refusal == nil)
        }
        for _ in 0..<3000 where hold.started.load(ordering: .relaxed) < 1 { usleep(1000) }
        usleep(50_000)
        let started = hold.started.load(ordering: .relaxed)
        #expect(started == 1, "the thread kept for light clients took a heavy client's question")
        #expect(pool.submit(client: light, ifFewerWaitingThan: 100) { counts.lightDone.store(true, ordering: .relaxed) }.refusal == nil)
        for _ in 0..<3000 where !counts.lightDone.load(ordering: .relaxed) { usleep(1000) }
        let lightAnswered = counts.lightDone.load(ordering: .relaxed)
        #expect(lightAnswered, "the light client's question waited behind the heavy ones")
        let finishedMeanwhile = counts.done.load(ordering: .relaxed)
        #expect(finishedMeanwhile == 1, "answered while the heavy questions were still held")
        hold.released.store(true, ordering: .relaxed)
        for _ in 0..<3000 where counts.done.load(ordering: .relaxed) < 4 { usleep(1000) }
        let finished = counts.done.load(ordering: .relaxed)
        #expect(finished == 4)
    }

    @Test func oneAddressCannotFillTheQueueForEveryone() {
        let pool = ComputePool(threadCount: 1, maxWaitingPerClient: 2)
        let hold = Hold()
        defer {
            hold.released.store(true, ordering: .relaxed)
            pool.stop()
        }
        #expect(pool.submit(client: 1, ifFewerWaitingThan: 100) { hold.wait() }.refusal == nil)
        for _ in 0..<3000 where hold.started.load(ordering: .relaxed) < 1 { usleep(1000) }
        // Running, then two waiting: the third waiting one is refused for this address only.
        #expect(pool.submit(client: 1, ifFewerWaitingThan: 100) { hold.wait() }.refusal == nil)
        #expect(pool.submit(client: 1, ifFewerWaitingThan: 100) { hold.wait() }.refusal == nil)
        let refused = pool.submit(client: 1, ifFewerWaitingThan: 100) { hold.wait() }.refusal
        #expect(refused?.status == 429 && refused?.code == "too_many_queries")
        #expect(pool.submit(client: 2, ifFewerWaitingThan: 100) {}.refusal == nil)
        // Past the queue's own limit everyone is told the server is busy.
        let busy = pool.submit(client: 3, ifFewerWaitingThan: 3) {}.refusal
        #expect(busy?.status == 503 && busy?.code == "busy")
    }
}
