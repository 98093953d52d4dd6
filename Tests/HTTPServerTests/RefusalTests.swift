import Glibc
import Synchronization
import Testing
@testable import HTTPServer

/// Answers the server gives for a matched route without its handler answering (the worker
/// queue full, a computation refused, a body too large) are reported to `onRefusal` with the
/// route's pattern, so that request metrics count them.
@Suite struct RefusalTests {
    final class Seen: Sendable {
        let refusals = Mutex<[RefusedRequest]>([])

        var routesAndStatuses: [String] {
            refusals.withLock { $0.map { "\($0.method) \($0.route) \($0.status)" } }
        }
    }

    private func withServer(_ seen: Seen, _ hold: ComputedAnswerTests.Hold, configure: (inout HTTPServerConfiguration) -> Void,
                            _ body: (HTTPServer, Int) throws -> Void) throws {
        var router = Router()
        router.get("/held/{n}", .blocking { _ in
            hold.wait()
            return .text("held")
        })
        router.get("/computed/{n}", .blocking { _ in
            .computed {
                hold.wait()
                return .text("computed")
            }
        })
        router.post("/echo/{name}", .blocking { request in .text("\(request.body.count)") })
        var configuration = HTTPServerConfiguration(port: 0, eventLoopThreads: 1, workerThreads: 1, accessLog: false)
        configuration.timeouts = HTTPTimeouts(requestHead: 5000, bodyInactivity: 5000, idleKeepAlive: 30_000, write: 5000)
        configuration.onRefusal = { refused in seen.refusals.withLock { $0.append(refused) } }
        configure(&configuration)
        let server = HTTPServer(configuration: configuration, router: router)
        let port = try server.start()
        defer {
            hold.released.store(true, ordering: .relaxed)
            server.shutdown(gracePeriodMilliseconds: 1000)
        }
        try body(server, port)
    }

    /// Waits (up to 30 s) until `condition` holds.
    private func waitFor(_ condition: () -> Bool) {
        for _ in 0..<30_000 where !condition() { usleep(1000) }
    }

    @Test func aFullWorkerQueueIsReportedWithTheRoute() throws {
        let seen = Seen(), hold = ComputedAnswerTests.Hold()
        try withServer(seen, hold, configure: { $0.maxQueuedRequests = 1 }) { server, port in
            let running = try TestClient(port: port, timeoutMilliseconds: 30_000)
            try running.send("GET /held/1 HTTP/1.1\r\nHost: t\r\n\r\n")
            waitFor { hold.started.load(ordering: .relaxed) == 1 }
            let waiting = try TestClient(port: port, timeoutMilliseconds: 30_000)
            try waiting.send("GET /held/2 HTTP/1.1\r\nHost: t\r\n\r\n")
            waitFor { server.load.queuedQueries == 1 }
            #expect(server.load.queuedQueries == 1, "the second request never waited for the worker")
            let refused = try request(port, "GET /held/3 HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(refused.status == 503 && refused.text.contains("busy"))
            #expect(seen.routesAndStatuses == ["GET /held/{n} 503"])
            hold.released.store(true, ordering: .relaxed)
            #expect(try running.readResponse().status == 200)
            #expect(try waiting.readResponse().status == 200)
            #expect(seen.routesAndStatuses == ["GET /held/{n} 503"], "answers the handler gave are not refusals")
        }
    }

    @Test func aComputationRefusedByTheComputePoolIsReported() throws {
        let seen = Seen(), hold = ComputedAnswerTests.Hold()
        try withServer(seen, hold, configure: {
            $0.computeWorkerThreads = 1
            $0.maxWaitingComputationsPerClient = 1
        }) { server, port in
            let running = try TestClient(port: port, timeoutMilliseconds: 30_000)
            try running.send("GET /computed/1 HTTP/1.1\r\nHost: t\r\n\r\n")
            waitFor { hold.started.load(ordering: .relaxed) == 1 }
            let waiting = try TestClient(port: port, timeoutMilliseconds: 30_000)
            try waiting.send("GET /computed/2 HTTP/1.1\r\nHost: t\r\n\r\n")
            waitFor { server.load.queuedQueries == 1 }
            #expect(server.load.queuedQueries == 1, "the second computation never waited")
            let refused = try request(port, "GET /computed/3 HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(refused.status == 429 && refused.text.contains("too_many_queries"))
            let reported = seen.refusals.withLock { $0 }
            #expect(seen.routesAndStatuses == ["GET /computed/{n} 429"])
            #expect(reported.first.map { $0.seconds >= 0 && $0.seconds < 30 } == true)
            hold.released.store(true, ordering: .relaxed)
            #expect(try running.readResponse().status == 200)
            #expect(try waiting.readResponse().status == 200)
        }
    }

    @Test func aBodyTooLargeForABufferedRouteIsReportedButAnUnknownPathIsNot() throws {
        let seen = Seen(), hold = ComputedAnswerTests.Hold()
        try withServer(seen, hold, configure: { $0.limits.maxBufferedBodyBytes = 10 }) { _, port in
            let declared = try request(port, "POST /echo/a HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n01234567890")
            #expect(declared.status == 413)
            let chunked = try request(port, "POST /echo/b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      + "6\r\n012345\r\n6\r\n678901\r\n0\r\n\r\n")
            #expect(chunked.status == 413)
            let fits = try request(port, "POST /echo/c HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789")
            #expect(fits.status == 200 && fits.text == "10")
            let unknown = try request(port, "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(unknown.status == 404)
            #expect(seen.routesAndStatuses == ["POST /echo/{name} 413", "POST /echo/{name} 413"])
            #expect(seen.refusals.withLock { $0.last?.bodyBytes } == 12)
        }
    }
}
