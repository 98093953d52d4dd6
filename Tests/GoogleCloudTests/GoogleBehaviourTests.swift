import Crypto
import Foundation
import Synchronization
import Testing
@testable import GoogleCloud

/// Where Google's documentation and Google's own clients say how to behave, we behave so.
@Suite struct GoogleBehaviourTests {
    func client(_ http: FakeHTTPClient, credentials: any TokenProvider = AnonymousCredentials()) throws -> BigQueryClient {
        var settings = BigQuerySettings()
        settings.retryPolicy = RetryPolicy(maxAttempts: 5, initialBackoff: 0.001, maxBackoff: 0.001, deadline: 10)
        return try BigQueryClient(endpoint: "http://bq.test", project: "p", credentials: credentials, httpClient: http,
                                  settings: settings)
    }

    static let rateLimited = #"{"error":{"code":403,"message":"Exceeded rate limits","errors":[{"reason":"rateLimitExceeded"}]}}"#
    static let denied = #"{"error":{"code":403,"message":"Access Denied","errors":[{"reason":"accessDenied"}]}}"#
    static let done = #"{"jobComplete":true,"schema":{"fields":[{"name":"n"}]},"rows":[{"f":[{"v":"1"}]}]}"#

    @Test func aRateLimitAnsweredAs403IsRetriedAndAnAccessDeniedIsNot() throws {
        let http = FakeHTTPClient([json(403, Self.rateLimited), json(403, Self.rateLimited), json(200, Self.done)])
        #expect(try client(http).query("SELECT 1").rows.count == 1)
        #expect(http.requests.count == 3)

        let refused = FakeHTTPClient([json(403, Self.denied), json(200, Self.done)])
        #expect(throws: GoogleCloudError.self) { _ = try client(refused).query("SELECT 1") }
        #expect(refused.requests.count == 1)
    }

    @Test func statusesAndReasonsAreClassifiedAsGooglesClientsDo() {
        func error(_ status: Int, _ reason: String? = nil) -> GoogleCloudError {
            .http(statusCode: status, reason: reason, status: nil, message: "")
        }
        for status in [408, 429, 500, 502, 503, 504] { #expect(error(status).isTransient, "\(status)") }
        for status in [400, 401, 403, 404, 409, 412, 501, 505] { #expect(!error(status).isTransient, "\(status)") }
        for reason in ["rateLimitExceeded", "backendError", "internalError", "badGateway"] {
            #expect(error(403, reason).isTransient, "\(reason)")
            #expect(error(400, reason).isTransient, "\(reason)")
        }
        #expect(!error(403, "quotaExceeded").isTransient)
        #expect(!error(501, "notImplemented").isTransient)
    }

    @Test func theDefaultRetryBudgetIsGooglesAndRidesOutAHiccupOfMinutes() {
        let policy = RetryPolicy()
        #expect(policy.initialBackoff == 1 && policy.multiplier == 2 && policy.maxBackoff == 32 && policy.deadline == 120)
        #expect(policy.backoffCap(afterAttempt: 1) == 1)
        #expect(policy.backoffCap(afterAttempt: 6) == 32)
        #expect(policy.backoffCap(afterAttempt: 20) == 32)
        // The attempts are bounded by the deadline, not by a small count.
        let failures = Mutex(0)
        var slept = 0.0
        let result = try? RetryLoop.run(policy: policy, idempotent: true, sleep: { slept += $0 }) { attempt -> Int in
            if attempt < 9 {
                failures.withLock { $0 += 1 }
                throw GoogleCloudError.http(statusCode: 503, reason: nil, status: nil, message: "busy")
            }
            return attempt
        }
        #expect(result == 9)
        #expect(failures.withLock { $0 } == 8)
        // Each wait is at most its cap: 1 + 2 + 4 + 8 + 16 + 32 + 32 + 32 s.
        #expect(slept <= 127)
    }

    @Test func topLevelErrorsBesideResultsAreWarningsAndAFailedJobIsAFailure() throws {
        let warned = #"{"jobComplete":true,"errors":[{"reason":"invalidQuery","message":"a warning"}],"schema":{"fields":[{"name":"n"}]},"rows":[{"f":[{"v":"7"}]}]}"#
        #expect(try client(FakeHTTPClient([json(200, warned)])).query("SELECT 7").value(0, "n").int64 == 7)
        let failedJob = #"{"jobComplete":true,"status":{"errorResult":{"reason":"invalidQuery","message":"Syntax error"}}}"#
        #expect(throws: GoogleCloudError.query(reason: "invalidQuery", message: "Syntax error")) {
            _ = try client(FakeHTTPClient([json(200, failedJob)])).query("SELEC 7")
        }
        // Errors with no columns: the job failed (an emulator also sends an empty schema and no rows).
        let failedWithoutResults = #"{"jobComplete":true,"schema":{"fields":[]},"rows":[],"errors":[{"reason":"invalidQuery","message":"Unrecognized name: x"}]}"#
        #expect(throws: GoogleCloudError.query(reason: "invalidQuery", message: "Unrecognized name: x")) {
            _ = try client(FakeHTTPClient([json(200, failedWithoutResults)])).query("SELECT x")
        }
    }

    final class CountingToken: TokenProvider, @unchecked Sendable {
        // Safe: only touched under `lock`.
        let lock = Mutex((fetches: 0, invalidations: 0))
        func authorizationHeader() throws -> String? {
            let count = lock.withLock { state -> Int in state.fetches += 1; return state.fetches }
            return "Bearer token-\(count)"
        }
        func invalidate() { lock.withLock { $0.invalidations += 1 } }
    }

    @Test func a401DropsTheTokenAndIsSentOnceMoreEvenWhenNotIdempotent() throws {
        let token = CountingToken()
        let http = FakeHTTPClient([json(401, #"{"error":{"code":401,"message":"expired"}}"#),
                                   json(200, #"{"kind":"bigquery#tableDataInsertAllResponse"}"#)])
        let rows = [InsertRow(insertID: nil, json: Array(#"{"a":1}"#.utf8))]  // no insertId: not idempotent
        #expect(try client(http, credentials: token).insertAll(dataset: "d", table: "t", rows: rows).isEmpty)
        #expect(http.requests.count == 2)
        #expect(token.lock.withLock { $0.invalidations } == 1)
        #expect(http.requests[1].headers.contains { $0.name == "Authorization" && $0.value == "Bearer token-2" })
        // A second 401 in a row is an answer, not a reason to loop.
        let twice = FakeHTTPClient([json(401, "{}"), json(401, "{}"), json(200, "{}")])
        #expect(throws: GoogleCloudError.self) { _ = try client(twice, credentials: token).insertAll(dataset: "d", table: "t", rows: rows) }
        #expect(twice.requests.count == 2)
    }

    @Test func aQuotaProjectOfTheCredentialsFileIsSentAsUserProject() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("adc-\(UUID().uuidString).json").path
        defer { unlink(path) }
        let file = #"{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r","quota_project_id":"billing-42"}"#
        try Data(file.utf8).write(to: URL(fileURLWithPath: path))
        let http = FakeHTTPClient([json(200, #"{"access_token":"at","expires_in":3600}"#), json(200, Self.done)])
        let credentials = try ApplicationDefaultCredentials.fromFile(path: path, http: http)
        #expect(credentials.quotaProject == "billing-42")
        _ = try client(http, credentials: credentials).query("SELECT 1")
        let query = try #require(http.requests.last)
        #expect(query.headers.contains { $0.name == "x-goog-user-project" && $0.value == "billing-42" })
    }

    @Test func anEmptyMetadataHostMeansUnset() throws {
        let http = FakeHTTPClient([json(200, #"{"access_token":"at","expires_in":3600,"token_type":"Bearer"}"#)])
        let provider = try ApplicationDefaultCredentials.find(
            http: http, environment: ["GCE_METADATA_HOST": "", "HOME": "/nonexistent-home"])
        #expect(try provider.authorizationHeader() == "Bearer at")
        let url = try #require(http.requests.first?.url)
        #expect(url.hasPrefix("http://metadata.google.internal/"), "\(url)")
    }

    @Test func theFinalChunkCarriesTheChecksumsAndACorruptedObjectIsDeleted() throws {
        let bytes = Array("hello, sales".utf8)
        var crc = CRC32C(); crc.update(bytes)
        let md5 = Base64.encode(Array(Insecure.MD5.hash(data: bytes)))
        let session = HTTPResponse(status: 200, headers: [("location", "http://gcs.test/upload/session-1")], body: [])
        let corrupted = #"{"bucket":"b","name":"n","generation":"77","size":"12","crc32c":"AAAAAA==","md5Hash":"\#(md5)"}"#
        let fake = FakeHTTPClient([.success(session), json(200, corrupted), json(204, "")])
        var settings = StorageSettings()
        settings.retryPolicy = RetryPolicy(maxAttempts: 2, initialBackoff: 0.001, maxBackoff: 0.001, deadline: 5)
        let client = try StorageClient(endpoint: "http://gcs.test", project: "p", credentials: AnonymousCredentials(),
                                       httpClient: fake, settings: settings)
        let upload = try client.beginResumableUpload(bucket: "b", name: "n", contentType: "text/csv")
        try upload.write(bytes)
        #expect(throws: GoogleCloudError.checksumMismatch("gs://b/n: stored crc32c AAAAAA==, sent \(crc.base64)")) {
            _ = try upload.finish()
        }
        let requests = fake.requests
        #expect(requests.count == 3)
        #expect(requests[1].headers.contains { $0.name == "x-goog-hash" && $0.value == "crc32c=\(crc.base64),md5=\(md5)" })
        #expect(requests[2].method == "DELETE")
        #expect(requests[2].url.hasSuffix("/storage/v1/b/b/o/n?generation=77"))
    }
}
