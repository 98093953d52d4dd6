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
}
