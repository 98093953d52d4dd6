import ETL
import Foundation
import GoogleCloud
import Synchronization
import Testing
@testable import Warehouse

/// Rows BigQuery did not store for a passing reason are sent again with the same insertId;
/// rows refused for their own fault become rejects (as Beam's retry strategy does).
@Suite struct BigQueryRowRetryTests {
    final class Script: HTTPClient {
        let answers = Mutex<[String]>([])
        let sent = Mutex<[(url: String, body: String)]>([])
        init(_ answers: [String]) { self.answers.withLock { $0 = answers } }
        func perform(_ request: HTTPRequest) throws -> HTTPResponse {
            var body = ""
            if case .bytes(let bytes) = request.body { body = String(decoding: bytes, as: UTF8.self) }
            sent.withLock { $0.append((request.url, body)) }
            let answer = answers.withLock { $0.isEmpty ? "{}" : $0.removeFirst() }
            return HTTPResponse(status: 200, body: Array(answer.utf8))
        }
    }

    func warehouse(_ script: Script) throws -> BigQueryWarehouse {
        var client = BigQuerySettings()
        client.gzipInsertAll = false
        client.retryPolicy = RetryPolicy(maxAttempts: 3, initialBackoff: 0.001, maxBackoff: 0.001, deadline: 5)
        var settings = BigQueryWarehouseSettings()
        settings.checkExistingKeys = false
        return BigQueryWarehouse(
            client: try BigQueryClient(endpoint: "http://bq.test", project: "p", credentials: AnonymousCredentials(),
                                       httpClient: script, settings: client),
            settings: settings)
    }

    let rows = (0..<3).map { BigQueryWarehouseEmulatorTests.row(UInt64($0), invoice: "5\($0)", quantity: 1, price: 1_000_000) }

    @Test func transientRowErrorsAreSentAgainWithTheSameInsertId() throws {
        let script = Script([
            #"{"insertErrors":[{"index":1,"errors":[{"reason":"backendError","message":"try again"}]},{"index":2,"errors":[{"reason":"timeout"}]}]}"#,
            #"{"insertErrors":[{"index":0,"errors":[{"reason":"internalError"}]}]}"#,
            "{}",
        ])
        let result = try warehouse(script).insert(rows, for: BigQueryWarehouseEmulatorTests.context("u"))
        #expect(result.inserted == 3)
        #expect(result.rejected.isEmpty)
        let bodies = script.sent.withLock { $0.map(\.body) }
        #expect(bodies.count == 3)
        let key1 = BigQueryText.hex(rows[1].rowKey), key2 = BigQueryText.hex(rows[2].rowKey)
        #expect(bodies[1].contains(#""insertId":"u:\#(key1)""#) && bodies[1].contains(#""insertId":"u:\#(key2)""#))
        #expect(!bodies[1].contains(BigQueryText.hex(rows[0].rowKey)))
        #expect(bodies[2].contains(#""insertId":"u:\#(key1)""#) && !bodies[2].contains(key2))
    }

    @Test func aRowRefusedForItsOwnFaultIsARejectAndNotSentAgain() throws {
        let script = Script([#"{"insertErrors":[{"index":2,"errors":[{"reason":"invalid","location":"quantity","message":"bad"}]}]}"#])
        let result = try warehouse(script).insert(rows, for: BigQueryWarehouseEmulatorTests.context("u"))
        #expect(result.inserted == 2)
        #expect(result.rejected.map(\.reason) == ["warehouse_invalid"])
        #expect(script.sent.withLock { $0.count } == 1)
    }
}
