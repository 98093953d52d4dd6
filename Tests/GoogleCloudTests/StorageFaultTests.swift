import Testing
@testable import GoogleCloud

@Suite(.enabled(if: Emulators.hasStorage, "STORAGE_EMULATOR_HOST is not set: run scripts/emulators.sh start"))
struct StorageFaultTests {
    static func isChunk(_ head: FaultProxy.RequestHead) -> Bool {
        head.method == "PUT" && head.bodyLength > 0
    }

    @Test func aResumableUploadSurvivesErrorsResetsAndStallsWithTheExactBytes() throws {
        let proxy = try FaultProxy(upstream: try #require(Emulators.storageHost))
        defer { proxy.stop() }
        var http = HTTPClientSettings()
        http.stallSeconds = 1
        let client = try storageClient(endpoint: proxy.endpoint, retry: quickRetries, http: http)
        let direct = try storageClient()
        proxy.inject(.status(503), when: { $0.method == "POST" })           // starting the session
        proxy.inject(.status(503), skip: 1, when: Self.isChunk)               // 2nd chunk
        proxy.inject(.resetMidBody, skip: 1, when: Self.isChunk)             // 3rd chunk, cut in the middle
        proxy.inject(.forwardThenReset, skip: 1, when: Self.isChunk)         // 4th: stored, but the answer is lost
        proxy.inject(.stall(seconds: 3), skip: 1, when: Self.isChunk)        // 5th: no answer at all
        proxy.inject(.status(429), when: { $0.method == "PUT" && $0.bodyLength == 0 })  // a status query
        proxy.inject(.forwardThenReset, when: { ($0.headers["content-range"] ?? "").hasSuffix("/\(7 * 256 * 1024 + 999)") })

        let bytes = testBytes(count: 7 * 256 * 1024 + 999, seed: 7)
        let name = uniqueName("faults/upload") + ".csv"
        let upload = try client.beginResumableUpload(bucket: Emulators.bucket, name: name, contentType: "text/csv")
        for start in stride(from: 0, to: bytes.count, by: 100_000) {
            try upload.write(Array(bytes[start..<min(bytes.count, start + 100_000)]))
        }
        let object = try upload.finish()
        #expect(proxy.pendingFaults == 0, "every fault was met: \(proxy.injected)")
        #expect(upload.recoveries >= 5)
        #expect(object.sizeBytes == Int64(bytes.count))
        #expect(md5Hex(try direct.downloadAll(bucket: Emulators.bucket, name: name)) == md5Hex(bytes))
    }

    @Test func aDownloadRetriesARangeThatFailed() throws {
        let proxy = try FaultProxy(upstream: try #require(Emulators.storageHost))
        defer { proxy.stop() }
        let client = try storageClient(endpoint: proxy.endpoint)
        let name = uniqueName("faults/download")
        let bytes = testBytes(count: 700 * 1024, seed: 9)
        _ = try client.upload(bucket: Emulators.bucket, name: name, contentType: "application/octet-stream", bytes: bytes)
        proxy.inject(.status(503), skip: 1, when: { $0.target.contains("alt=media") })
        proxy.inject(.forwardThenReset, skip: 1, when: { $0.target.contains("alt=media") })
        #expect(try client.downloadAll(bucket: Emulators.bucket, name: name) == bytes)
        #expect(proxy.pendingFaults == 0)
    }

    @Test func retriesStopAtTheAttemptBudget() throws {
        let proxy = try FaultProxy(upstream: try #require(Emulators.storageHost))
        defer { proxy.stop() }
        let client = try storageClient(endpoint: proxy.endpoint,
                                       retry: RetryPolicy(maxAttempts: 3, initialBackoff: 0.01, maxBackoff: 0.01, deadline: 10))
        for _ in 0..<5 { proxy.inject(.status(503), when: { $0.method == "GET" }) }
        do {
            try client.checkBucket(Emulators.bucket)
            Issue.record("expected the retries to run out")
        } catch let error as GoogleCloudError {
            #expect(error.httpStatus == 503)
            #expect(error.message.contains("3 attempts"))
        }
        #expect(proxy.pendingFaults == 2)
    }
}
