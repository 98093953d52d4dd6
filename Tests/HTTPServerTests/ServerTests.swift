import Foundation
import Glibc
import Support
import Synchronization
import Testing
@testable import HTTPServer

/// Things handlers saw, for tests to check from the outside.
final class Recorder: Sendable {
    let outcomes = Mutex<[String]>([])

    func record(_ outcome: String) { outcomes.withLock { $0.append(outcome) } }

    /// Waits (bounded) until an outcome is recorded.
    func waitForOutcome(timeoutMilliseconds: Int = 3000) -> String? {
        for _ in 0..<(timeoutMilliseconds / 10) {
            if let first = outcomes.withLock({ $0.first }) { return first }
            usleep(10_000)
        }
        return nil
    }

    /// Waits (bounded, generously) until `outcome` has been recorded `count` times.
    func waitFor(_ outcome: String, count: Int, timeoutMilliseconds: Int = 30_000) -> Bool {
        for _ in 0..<(timeoutMilliseconds / 10) {
            if outcomes.withLock({ $0.filter { $0 == outcome }.count }) >= count { return true }
            usleep(10_000)
        }
        return false
    }
}

struct HandlerFailure: Error {
    let secret = "database password is hunter2"
}

func fnv1a(_ bytes: some Sequence<UInt8>, _ start: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
    var hash = start
    for byte in bytes {
        hash ^= UInt64(byte)
        hash &*= 0x0000_0100_0000_01b3
    }
    return hash
}

/// The consumer of the test routes' streaming bodies: counts and hashes what it takes.
final class TestConsumer: HTTPBodyConsumer {
    let recorder: Recorder?
    let pauseEvery: Int
    let answer: (TestConsumer) -> HTTPResponse
    private(set) var count = 0
    private(set) var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    private var calls = 0

    init(recorder: Recorder?, pauseEvery: Int = 0, answer: @escaping (TestConsumer) -> HTTPResponse) {
        self.recorder = recorder
        self.pauseEvery = pauseEvery
        self.answer = answer
    }

    func consume(_ bytes: UnsafeRawBufferPointer) {
        count += bytes.count
        hash = fnv1a(bytes, hash)
        calls += 1
        if pauseEvery > 0 && calls % pauseEvery == 0 { usleep(500) }
    }

    func finish() -> HTTPResponse {
        recorder?.record("complete")
        return answer(self)
    }

    func abandon(_ reason: HTTPError) { recorder?.record(reason.code) }
}

let bigText = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 500)

func makeRouter(_ recorder: Recorder, staticRoot: String? = nil) throws -> Router {
    var router = Router()
    router.get("/healthz", .immediate { _ in .text("ok") })
    router.get("/big", .immediate { _ in .text(bigText) })
    router.get("/items/{id}", .immediate { request in .json(200, "{\"id\":\(JSONWriter.quoted(request.pathParameters["id"] ?? ""))}") })
    router.post("/echo", .blocking { request in
        HTTPResponse(status: 200, headers: ["Content-Type": "application/octet-stream"], body: request.body)
    })
    router.get("/fail", .blocking { _ in throw HandlerFailure() })
    // Holds its worker until the test records "release" (at most 30 s).
    router.get("/gate", .blocking { _ in
        recorder.record("waiting")
        for _ in 0..<3000 where !recorder.outcomes.withLock({ $0.contains("release") }) { usleep(10_000) }
        return .text("released")
    })
    router.get("/sleep", .blocking { _ in
        usleep(300_000)
        return .text("slept")
    })
    // Counts and hashes the body, slowly (a pause every fourth piece).
    router.post("/upload", .streaming { _ in
        TestConsumer(recorder: nil, pauseEvery: 4) { consumer in
            .json(200, "{\"bytes\":\(consumer.count),\"hash\":\"\(String(consumer.hash, radix: 16))\"}")
        }
    })
    // Records how the body ended: "complete", or the code of the reason it was abandoned.
    router.post("/watched", .streaming { _ in
        TestConsumer(recorder: recorder) { _ in .text("done") }
    })
    // As /watched, and records "entered" when the consumer is made (the head has arrived).
    router.post("/held", .streaming { _ in
        recorder.record("entered")
        return TestConsumer(recorder: recorder) { _ in .text("done") }
    })
    if let staticRoot {
        router.get("/static/{path...}", try StaticFiles(root: staticRoot).handler)
    }
    return router
}

/// Runs `body` against a fresh server on a free port, then shuts it down.
func withServer(_ adjust: (inout HTTPServerConfiguration) -> Void = { _ in }, staticRoot: String? = nil,
                recorder: Recorder = Recorder(), _ body: (Int) throws -> Void) throws {
    var configuration = HTTPServerConfiguration(port: 0, eventLoopThreads: 2, workerThreads: 2, accessLog: false)
    configuration.timeouts = HTTPTimeouts(requestHead: 2000, bodyInactivity: 2000, idleKeepAlive: 5000, write: 2000)
    adjust(&configuration)
    let server = HTTPServer(configuration: configuration, router: try makeRouter(recorder, staticRoot: staticRoot))
    let port = try server.start()
    defer { server.shutdown(gracePeriodMilliseconds: 1000) }
    try body(port)
}

@Suite struct ServerTests {
    @Test func keepAliveServesAThousandRequestsOnOneConnection() throws {
        try withServer { port in
            let client = try TestClient(port: port)
            for _ in 0..<1000 {
                try client.send("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
                let response = try client.readResponse()
                #expect(response.status == 200 && response.text == "ok")
                if response.status != 200 { return }
            }
            #expect(client.unreadBytes == 0)
        }
    }

    @Test func stalledUploadsHoldNoThread() throws {
        // More clients than there are threads of every kind sent part of a body and went quiet.
        // None holds a thread: a whole upload and a query are both answered meanwhile.
        let recorder = Recorder()
        try withServer({
            $0.streamingWorkerThreads = 1; $0.receiveWorkerThreads = 1; $0.workerThreads = 1
            $0.limits.maxUploadsPerClient = 100; $0.timeouts.bodyInactivityMilliseconds = 60_000
        }, recorder: recorder) { port in
            var stalled: [TestClient] = []
            for _ in 0..<6 {
                let client = try TestClient(port: port, timeoutMilliseconds: 30_000)
                try client.send("POST /held HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nhalf")
                stalled.append(client)
            }
            #expect(recorder.waitFor("entered", count: 6), "the stalled uploads were not all begun: \(recorder.outcomes.withLock { $0 })")
            let body = [UInt8]((0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            let client = try TestClient(port: port, timeoutMilliseconds: 30_000)
            try client.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n")
            try client.send(body)
            let upload = try client.readResponse()
            #expect(upload.status == 200)
            #expect(upload.text == "{\"bytes\":\(body.count),\"hash\":\"\(String(fnv1a(body), radix: 16))\"}")
            let query = try request(port, "GET /sleep HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            #expect(query.status == 200 && query.text == "slept")
            // Answered while the stalled bodies were still open (they time out after 60 s).
            #expect(recorder.outcomes.withLock { $0 } == Array(repeating: "entered", count: 6))
            // And a stalled body that completes is still taken whole.
            try stalled[0].send([UInt8](repeating: 65, count: 996))
            #expect(try stalled[0].readResponse().status == 200)
            #expect(recorder.waitFor("complete", count: 1))
        }
    }

    @Test func aSecondServerOnATakenPortRefusesToStart() throws {
        try withServer { port in
            var configuration = HTTPServerConfiguration(port: port, eventLoopThreads: 2, accessLog: false)
            configuration.port = port
            let second = HTTPServer(configuration: configuration, router: Router())
            do {
                _ = try second.start()
                second.shutdown(gracePeriodMilliseconds: 100)
                Issue.record("a second server joined port \(port)")
            } catch let error as HTTPServerError {
                #expect(error.code == "bind_failed")
                #expect(error.message.contains("in use"))
            }
        }
    }

    @Test func pipelinedRequestsAnswerInOrder() throws {
        try withServer { port in
            let client = try TestClient(port: port)
            try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                + "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
                + "GET /items/42 HTTP/1.1\r\nHost: t\r\n\r\n"
                + "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            #expect(try client.readResponse().text == "ok")
            #expect(try client.readResponse().text == "hello")
            #expect(try client.readResponse().text == #"{"id":"42"}"#)
            #expect(try client.readResponse().text == "abcde")
        }
    }

    @Test func expectContinueGets100ThenTheAnswer() throws {
        try withServer { port in
            let client = try TestClient(port: port)
            try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            let interim = try client.readResponse()
            #expect(interim.status == 100)
            try client.send("hello")
            let final = try client.readResponse()
            #expect(final.status == 200 && final.text == "hello")
        }
    }

    @Test func oneClientCannotHoldMoreThanItsShareOfConnections() throws {
        try withServer({ $0.limits.maxConnectionsPerClient = 3 }) { port in
            let held = try (0..<3).map { _ in try TestClient(port: port) }
            for client in held {
                try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try client.readResponse().status == 200)
            }
            let refused = try TestClient(port: port)
            let answer = try refused.readResponse()
            #expect(answer.status == 503)
            #expect(answer.text.contains("too_many_connections"))
            // The held connections still work; one closed makes room for a new one.
            try held[0].send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try held[0].readResponse().status == 200)
            shutdown(held[2].fd, Int32(SHUT_RDWR))  // the server sees the close; the descriptor goes with the client
            var admitted = false
            for _ in 0..<200 where !admitted {
                let next = try TestClient(port: port)
                try next.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                admitted = (try? next.readResponse().status) == 200
                if !admitted { usleep(10_000) }
            }
            #expect(admitted, "a connection is admitted again once one is closed")
        }
    }

    @Test func pastTheQueueLimitAQueryIs503BusyAtOnce() throws {
        let recorder = Recorder()
        try withServer({ $0.workerThreads = 1; $0.maxQueuedRequests = 1 }, recorder: recorder) { port in
            // One worker, one place in the queue: while a request holds the worker, of three more
            // one waits and the other two cannot wait and are answered at once.
            let first = try TestClient(port: port)
            try first.send("GET /gate HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(recorder.waitFor("waiting", count: 1), "the first request never ran")
            let later = try (0..<3).map { _ in try TestClient(port: port, timeoutMilliseconds: 50) }
            for client in later { try client.send("GET /gate HTTP/1.1\r\nHost: t\r\n\r\n") }
            var early: [Int: TestClient.Response] = [:]
            for _ in 0..<600 where early.count < 2 {
                for (index, client) in later.enumerated() where early[index] == nil {
                    if let answer = try? client.readResponse() { early[index] = answer }
                }
            }
            #expect(early.count == 2, "two requests past the queue are answered while the worker is held")
            #expect(early.values.allSatisfy { $0.status == 503 && $0.headers["retry-after"] == "1" && $0.text.contains("\"busy\"") })
            recorder.record("release")
            #expect(try first.readResponse().status == 200)
            if let waiting = later.indices.first(where: { early[$0] == nil }) {
                var answer: TestClient.Response?
                for _ in 0..<600 where answer == nil { answer = try? later[waiting].readResponse() }
                #expect(answer?.status == 200, "the request that waited in the queue is served")
            }
        }
        #expect(ServerLoad(queuedQueries: 128, maxQueuedQueries: 256).isSaturated)
        #expect(!ServerLoad(queuedQueries: 127, maxQueuedQueries: 256).isSaturated)
    }

    @Test func aBodyTrickledSlowerThanTheMinimumRateIsCutOff() throws {
        try withServer({
            $0.timeouts.bodyRateWindowMilliseconds = 600
            $0.timeouts.minBodyBytesPerSecond = 1000
            $0.timeouts.bodyInactivityMilliseconds = 60_000
        }) { port in
            let client = try TestClient(port: port, timeoutMilliseconds: 50)
            try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
            var answer: TestClient.Response?
            // 20 bytes every 100 ms: 200 bytes/s, a fifth of the minimum, but never silent.
            for _ in 0..<60 where answer == nil {
                try? client.send(String(repeating: "x", count: 20))
                if let ready = try? client.readResponse() { answer = ready }  // waits up to 50 ms
                usleep(50_000)
            }
            #expect(answer?.status == 408)
            #expect(answer?.text.contains("body_too_slow") == true)
            // A body at an ordinary pace is not troubled.
            let fine = try request(port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
            #expect(fine.status == 200 && fine.text == "hello")
        }
    }

    @Test func oneClientCannotTakeEveryUploadThread() throws {
        let recorder = Recorder()
        try withServer({ $0.limits.maxUploadsPerClient = 1; $0.timeouts.bodyInactivityMilliseconds = 60_000 },
                       recorder: recorder) { port in
            let first = try TestClient(port: port)
            try first.send("POST /held HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            // The precondition: the first upload is being handled (it holds the address's one slot).
            #expect(recorder.waitForOutcome(timeoutMilliseconds: 30_000) == "entered")
            // Until the first is answered, a second upload from this address is refused at once.
            let refused = try request(port, "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz")
            #expect(refused.status == 429)
            #expect(refused.text.contains("too_many_uploads"))
            #expect(refused.headers["retry-after"] == "5")
            try first.send("defghij")
            #expect(try first.readResponse().status == 200)
            let after = try request(port, "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz")
            #expect(after.status == 200, "the slot is free again once the first is answered")
        }
    }

    @Test func aCompressedRequestBodyIs415NotMisreadAsPlainBytes() throws {
        try withServer { port in
            let gzip = try request(port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello")
            #expect(gzip.status == 415)
            #expect(gzip.text.contains("unsupported_content_encoding"))
            let identity = try request(port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello")
            #expect(identity.status == 200 && identity.text == "hello")
        }
    }

    @Test func commonHeadersGoOnEveryAnswerErrorsIncluded() throws {
        try withServer({ $0.commonHeaders = ["X-Content-Type-Options": "nosniff"] }) { port in
            for target in ["/echo", "/nowhere"] {
                let response = try request(port, "GET \(target) HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(response.headers["x-content-type-options"] == "nosniff", "\(target)")
            }
        }
    }

    @Test func unsupportedExpectationIs417() throws {
        try withServer { port in
            let response = try request(port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nExpect: magic\r\n\r\n")
            #expect(response.status == 417)
        }
    }

    @Test func overLimitContentLengthGets413WithoutSendingTheBody() throws {
        try withServer({ $0.limits.maxBufferedBodyBytes = 1024 }) { port in
            let client = try TestClient(port: port)
            try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\nExpect: 100-continue\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 413)
            #expect(response.headers["Connection"] == "close")
            #expect(client.isClosedByServer())

            let plain = try TestClient(port: port)
            try plain.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2048\r\n\r\n")
            #expect(try plain.readResponse().status == 413)
        }
    }

    @Test func chunkedBodyOverTheLimitIs413() throws {
        try withServer({ $0.limits.maxBufferedBodyBytes = 1024 }) { port in
            let chunk = String(repeating: "x", count: 800)
            let response = try request(port, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "320\r\n\(chunk)\r\n320\r\n\(chunk)\r\n0\r\n\r\n")
            #expect(response.status == 413)
        }
    }

    @Test func slowlorisHeadGets408() throws {
        try withServer({ $0.timeouts.requestHeadMilliseconds = 300 }) { port in
            let client = try TestClient(port: port)
            try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n")
            let started = Clock.nanoseconds()
            try client.send("X-Slow: 1\r\n")
            let response = try client.readResponse()
            let waited = (Clock.nanoseconds() - started) / 1_000_000
            #expect(response.status == 408)
            #expect(waited < 2000)
            #expect(client.isClosedByServer())
        }
    }

    @Test func idleKeepAliveConnectionIsClosedSilently() throws {
        try withServer({ $0.timeouts.idleKeepAliveMilliseconds = 200 }) { port in
            let client = try TestClient(port: port)
            try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponse().status == 200)
            #expect(client.isClosedByServer())
            #expect(client.unreadBytes == 0)
        }
    }

    @Test func streamingHandlerReceivesExactlyTheBytesSentSlowly() throws {
        try withServer({ $0.limits.streamingQueueBytes = 256 << 10 }) { port in
            var generator = SystemRandomNumberGenerator()
            let size = 6 << 20
            var body = [UInt8](repeating: 0, count: size)
            for index in stride(from: 0, to: size, by: 8) {
                withUnsafeBytes(of: generator.next() as UInt64) { bytes in
                    for offset in 0..<8 where index + offset < size { body[index + offset] = bytes[offset] }
                }
            }
            let client = try TestClient(port: port)
            try client.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: \(size)\r\n\r\n")
            var offset = 0
            var pieces = 0
            while offset < size {
                let end = min(size, offset + 50_000 + (pieces % 7) * 3_001)
                try client.send(Array(body[offset..<end]))
                offset = end
                pieces += 1
                if pieces % 10 == 0 { usleep(1000) }
            }
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "{\"bytes\":\(size),\"hash\":\"\(String(fnv1a(body), radix: 16))\"}")
        }
    }

    @Test func chunkedStreamingUploadArrivesWhole() throws {
        try withServer { port in
            let client = try TestClient(port: port)
            var payload: [UInt8] = []
            var wire = Array("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
            for index in 0..<50 {
                let chunk = [UInt8](repeating: UInt8(index), count: 1000 + index * 37)
                payload.append(contentsOf: chunk)
                wire.append(contentsOf: Array((String(chunk.count, radix: 16) + "\r\n").utf8) + chunk + [13, 10])
            }
            wire.append(contentsOf: Array("0\r\n\r\n".utf8))
            try client.send(wire)
            let response = try client.readResponse()
            #expect(response.text == "{\"bytes\":\(payload.count),\"hash\":\"\(String(fnv1a(payload), radix: 16))\"}")
        }
    }

    @Test func clientDisconnectMidBodyMakesReadThrowAndServerStaysHealthy() throws {
        let recorder = Recorder()
        try withServer(recorder: recorder) { port in
            do {
                let client = try TestClient(port: port)
                try client.send("POST /watched HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
                try client.send([UInt8](repeating: 7, count: 10_000))
                usleep(50_000)
            }  // the client is closed here
            #expect(recorder.waitForOutcome() == "incomplete_body")
            #expect(try request(port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
        }
    }

    @Test func stalledBodyTimesOutWith408AndReadThrows() throws {
        let recorder = Recorder()
        try withServer({ $0.timeouts.bodyInactivityMilliseconds = 300 }, recorder: recorder) { port in
            let client = try TestClient(port: port)
            try client.send("POST /watched HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
            #expect(try client.readResponse().status == 408)
            #expect(recorder.waitForOutcome() == "body_timeout")
        }
    }

    @Test func headHasHeadersButNoBody() throws {
        try withServer { port in
            let client = try TestClient(port: port)
            try client.send("HEAD /big HTTP/1.1\r\nHost: t\r\n\r\n")
            let head = try client.readResponse(head: true)
            #expect(head.status == 200)
            #expect(head.headers["Content-Length"] == String(bigText.utf8.count))
            // If a body had been sent, it would be read as the next response's start.
            try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            let next = try client.readResponse()
            #expect(next.status == 200 && next.text == "ok")
        }
    }

    @Test func unknownPathIs404AndWrongMethodIs405WithAllow() throws {
        try withServer { port in
            let missing = try request(port, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(missing.status == 404)
            #expect(missing.headers["Content-Type"] == "application/json")
            #expect(missing.text.hasPrefix(#"{"error":"not_found","message":"#))
            let wrong = try request(port, "DELETE /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(wrong.status == 405)
            #expect(wrong.headers["Allow"] == "GET, HEAD")
            #expect(wrong.text.hasPrefix(#"{"error":"method_not_allowed""#))
        }
    }

    @Test func handlerErrorIs500WithoutLeakingAndServerStaysUp() throws {
        try withServer { port in
            let response = try request(port, "GET /fail HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(response.status == 500)
            #expect(response.text.hasPrefix(#"{"error":"internal""#))
            #expect(!response.text.contains("hunter2"))
            #expect(try request(port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
        }
    }

    @Test func gzipResponseDecodesToTheOriginal() throws {
        try withServer { port in
            let compressed = try request(port, "GET /big HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br, gzip\r\n\r\n")
            #expect(compressed.headers["Content-Encoding"] == "gzip")
            #expect(compressed.headers["Vary"] == "Accept-Encoding")
            #expect(compressed.body.count < bigText.utf8.count / 4)
            #expect(Gzip.decompress(compressed.body) == Array(bigText.utf8))
            let plain = try request(port, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(plain.headers["Content-Encoding"] == nil)
            #expect(plain.text == bigText)
            let refused = try request(port, "GET /big HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip;q=0\r\n\r\n")
            #expect(refused.headers["Content-Encoding"] == nil)
            let small = try request(port, "GET /healthz HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
            #expect(small.headers["Content-Encoding"] == nil && small.text == "ok")
        }
    }

    @Test func responsesCarryDateServerAndContentLength() throws {
        try withServer { port in
            let response = try request(port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(response.headers["Server"] == "sales-portal")
            #expect(response.headers["Date"]?.hasSuffix(" GMT") == true)
            #expect(response.headers["Content-Length"] == "2")
        }
    }

    @Test func malformedRequestGets400AndClose() throws {
        try withServer { port in
            let client = try TestClient(port: port)
            try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 400)
            #expect(response.text.contains("content_length_with_transfer_encoding"))
            #expect(client.isClosedByServer())
        }
    }

    @Test func http10WithoutKeepAliveIsClosedAfterTheResponse() throws {
        try withServer { port in
            let client = try TestClient(port: port)
            try client.send("GET /healthz HTTP/1.0\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200 && response.headers["Connection"] == "close")
            #expect(client.isClosedByServer())
        }
    }

    @Test func gracefulShutdownFinishesTheRequestInFlight() throws {
        var configuration = HTTPServerConfiguration(port: 0, accessLog: false)
        configuration.eventLoopThreads = 1
        let server = HTTPServer(configuration: configuration, router: try makeRouter(Recorder()))
        let port = try server.start()
        let idle = try TestClient(port: port)
        let client = try TestClient(port: port)
        try client.send("GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n")
        usleep(50_000)
        let stopper = PThread.start { server.shutdown(gracePeriodMilliseconds: 3000) }
        let response = try client.readResponse()
        #expect(response.status == 200 && response.text == "slept")
        #expect(response.headers["Connection"] == "close")
        #expect(idle.isClosedByServer())
        pthread_join(stopper, nil)
        #expect(throws: (any Error).self) { _ = try request(port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n") }
    }
}

@Suite struct ConnectionScaleTests {
    @Test func manyIdleKeepAliveConnectionsDoNotBlockOthers() throws {
        try withServer({ $0.eventLoopThreads = 1; $0.workerThreads = 1 }) { port in
            var idle: [TestClient] = []
            for _ in 0..<300 {
                let client = try TestClient(port: port)
                try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try client.readResponse().status == 200)
                idle.append(client)
            }
            // One loop thread and one worker hold 300 open connections and still answer at once.
            let started = Clock.nanoseconds()
            #expect(try request(port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi").text == "hi")
            #expect((Clock.nanoseconds() - started) / 1_000_000 < 1000)
            #expect(idle.count == 300)
        }
    }

    @Test func accessLogLineFormat() throws {
        var log = AccessLog(enabled: true)
        var head = HTTPRequestHead(method: "POST", target: "/api/uploads")
        head.headers.add("User-Agent", "curl/8")
        let request = ActiveRequest(id: 1, head: head, peer: 0x0A00_0001, startedAt: 0, requestID: "abc-7", traceID: nil)
        log.record(method: "GET", path: "/healthz", status: 200, bytes: 2, nanoseconds: 50_000, request: nil)
        log.record(method: "POST", path: "/api/uploads", status: 413, bytes: 97, nanoseconds: 12_345_678_901, request: request)
        #expect(String(decoding: log.pending, as: UTF8.self)
            == "GET /healthz 200 2 0.05ms\nPOST /api/uploads 413 97 12345.67ms abc-7\n")

        var json = AccessLog(enabled: true, format: .json)
        json.record(method: "POST", path: "/api/uploads", status: 413, bytes: 97, nanoseconds: 12_345_678_901, request: request)
        let entry = try #require(try JSONSerialization.jsonObject(with: Data(json.pending)) as? [String: Any])
        #expect(entry["severity"] as? String == "WARNING")
        #expect(entry["requestId"] as? String == "abc-7")
        let http = try #require(entry["httpRequest"] as? [String: Any])
        #expect(http["status"] as? Int == 413 && http["responseSize"] as? String == "97")
        #expect(http["latency"] as? String == "12.345679s")
        #expect(http["remoteIp"] as? String == "10.0.0.1" && http["userAgent"] as? String == "curl/8")
    }
}
