import Testing
@testable import GoogleCloud

@Suite struct RetryPolicyTests {
    @Test func backoffStaysWithinTheExponentialCapAndNeverExceedsTheMaximum() {
        let policy = RetryPolicy(maxAttempts: 10, initialBackoff: 0.5, maxBackoff: 4, multiplier: 2, deadline: 100)
        #expect(policy.backoffCap(afterAttempt: 1) == 0.5)
        #expect(policy.backoffCap(afterAttempt: 2) == 1)
        #expect(policy.backoffCap(afterAttempt: 3) == 2)
        #expect(policy.backoffCap(afterAttempt: 4) == 4)
        #expect(policy.backoffCap(afterAttempt: 9) == 4)
        for attempt in 1...9 {
            for unit in stride(from: 0.0, to: 1.0, by: 0.1) {
                let wait = policy.backoff(afterAttempt: attempt, unit: unit)
                #expect(wait >= 0 && wait <= policy.backoffCap(afterAttempt: attempt))
            }
        }
        // Full jitter: the whole range is reachable, down to zero.
        #expect(policy.backoff(afterAttempt: 3, unit: 0) == 0)
        #expect(policy.backoff(afterAttempt: 3, unit: 0.999) > 1.99)
    }

    @Test func transientFailuresAreRetriedUntilTheAttemptBudgetRunsOut() {
        let policy = RetryPolicy(maxAttempts: 4, initialBackoff: 0.01, maxBackoff: 0.01, deadline: 10)
        var calls = 0
        var waits: [Double] = []
        #expect(throws: GoogleCloudError.self) {
            try RetryLoop.run(policy: policy, idempotent: true, sleep: { waits.append($0) }) { _ -> Int in
                calls += 1
                throw GoogleCloudError.http(statusCode: 503, reason: nil, status: nil, message: "busy")
            }
        }
        #expect(calls == 4)
        #expect(waits.count == 3)
        #expect(waits.allSatisfy { $0 >= 0 && $0 <= 0.01 })
    }

    @Test func permanentFailuresAndNonIdempotentStepsAreNotRetried() {
        var calls = 0
        #expect(throws: GoogleCloudError.self) {
            try RetryLoop.run(policy: RetryPolicy(), idempotent: true, sleep: { _ in }) { _ -> Int in
                calls += 1
                throw GoogleCloudError.http(statusCode: 404, reason: "notFound", status: nil, message: "gone")
            }
        }
        #expect(calls == 1)
        calls = 0
        #expect(throws: GoogleCloudError.self) {
            try RetryLoop.run(policy: RetryPolicy(), idempotent: false, sleep: { _ in }) { _ -> Int in
                calls += 1
                throw GoogleCloudError.http(statusCode: 503, reason: nil, status: nil, message: "busy")
            }
        }
        #expect(calls == 1)
    }

    @Test func theDeadlineStopsRetriesEvenWithAttemptsLeft() {
        let policy = RetryPolicy(maxAttempts: 100, initialBackoff: 5, maxBackoff: 5, deadline: 0.001)
        var calls = 0
        do {
            _ = try RetryLoop.run(policy: policy, idempotent: true, sleep: { _ in }) { _ -> Int in
                calls += 1
                throw GoogleCloudError.transport(curlCode: 56, message: "reset")
            }
            Issue.record("expected a failure")
        } catch {
            // A wait of up to 5 s would pass the 1 ms deadline unless the jitter drew ~0.
            #expect(calls < 100)
        }
    }

    @Test func aRetriedStepSucceedsAndSeesItsAttemptNumber() throws {
        var seen: [Int] = []
        let value = try RetryLoop.run(policy: RetryPolicy(), idempotent: true, sleep: { _ in }) { attempt -> String in
            seen.append(attempt)
            if attempt < 3 { throw GoogleCloudError.http(statusCode: 429, reason: "rateLimitExceeded", status: nil, message: "slow down") }
            return "done"
        }
        #expect(value == "done")
        #expect(seen == [1, 2, 3])
    }
}
