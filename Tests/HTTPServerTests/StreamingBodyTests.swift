import Glibc
import Testing
@testable import HTTPServer

/// Streaming bodies handed to consumers (`BodyPump`), over a real socket.
@Suite struct StreamingBodyTests {
    @Test func aBodyRefusedAfterItFilledItsQueueLeavesTheConnectionReadable() throws {
        // The whole body arrives (over the queue's size, so reading pauses) before the route
        // refuses it: the answer keeps the connection, and its next request must still be read.
        var router = Router()
        router.get("/healthz", .immediate { _ in .text("ok") })
        router.post("/refused-late", .streaming { _ in
            usleep(200_000)
            throw HTTPError(status: 403, code: "forbidden", message: "not you")
        })
        var configuration = HTTPServerConfiguration(port: 0, eventLoopThreads: 1, workerThreads: 1, accessLog: false)
        configuration.limits.streamingQueueBytes = 64 << 10
        configuration.timeouts = HTTPTimeouts(requestHead: 5000, bodyInactivity: 5000, idleKeepAlive: 30_000, write: 5000)
        let server = HTTPServer(configuration: configuration, router: router)
        let port = try server.start()
        defer { server.shutdown(gracePeriodMilliseconds: 1000) }
        let client = try TestClient(port: port, timeoutMilliseconds: 5000)
        let body = [UInt8](repeating: 66, count: (64 << 10) + 100)
        try client.send(Array("POST /refused-late HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        let refused = try client.readResponse()
        #expect(refused.status == 403)
        try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        let next = try client.readResponse()
        #expect(next.status == 200 && next.text == "ok")
    }
}
