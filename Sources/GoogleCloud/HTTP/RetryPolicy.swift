import Foundation

/// How failed idempotent steps are retried: exponential backoff with full jitter,
/// bounded by an attempt count and a deadline.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included. 1 means no retry.
    public var maxAttempts: Int
    /// The cap of the first backoff, in seconds.
    public var initialBackoff: Double
    /// No single backoff is longer than this, in seconds.
    public var maxBackoff: Double
    /// Growth of the cap per attempt.
    public var multiplier: Double
    /// No retry starts later than this many seconds after the first attempt.
    public var deadline: Double

    /// The defaults are Google's clients': a first wait of up to 1 s, doubling to at most 32 s,
    /// for up to 120 s in all (attempts bounded by the deadline, not a count): an ordinary
    /// BigQuery or Cloud Storage hiccup of tens of seconds is ridden out.
    public init(maxAttempts: Int = 1_000, initialBackoff: Double = 1, maxBackoff: Double = 32,
                multiplier: Double = 2, deadline: Double = 120) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.multiplier = multiplier
        self.deadline = deadline
    }

    /// No retries at all.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The upper bound of the wait after failed attempt number `failedAttempt` (1-based).
    public func backoffCap(afterAttempt failedAttempt: Int) -> Double {
        let exponent = Double(max(0, failedAttempt - 1))
        return min(maxBackoff, initialBackoff * pow(multiplier, exponent))
    }

    /// Full jitter: a wait drawn uniformly from [0, cap]. `unit` is a number in [0, 1).
    public func backoff(afterAttempt failedAttempt: Int, unit: Double) -> Double {
        backoffCap(afterAttempt: failedAttempt) * min(max(unit, 0), 1)
    }
}

/// The module's one retry loop.
public enum RetryLoop {
    /// Runs `operation` until it succeeds, fails with a permanent error, or the policy's
    /// budget runs out. `operation` gets the 1-based attempt number so that a step that
    /// resumes (a resumable upload chunk) can first ask the server where it stands.
    /// Non-idempotent operations run exactly once.
    public static func run<T>(
        policy: RetryPolicy, idempotent: Bool,
        sleep: (Double) -> Void = RetryLoop.sleep,
        _ operation: (_ attempt: Int) throws -> T
    ) throws -> T {
        let start = ContinuousClock.now
        var attempt = 1
        while true {
            do {
                return try operation(attempt)
            } catch let error as GoogleCloudError {
                guard idempotent, error.isTransient else { throw error }
                if attempt >= policy.maxAttempts {
                    throw GoogleCloudError.retriesExhausted(attempts: attempt, last: error)
                }
                let wait = policy.backoff(afterAttempt: attempt, unit: Double.random(in: 0..<1))
                let elapsed = start.duration(to: .now)
                let elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                if elapsedSeconds + wait > policy.deadline {
                    throw GoogleCloudError.retriesExhausted(attempts: attempt, last: error)
                }
                sleep(wait)
                attempt += 1
            }
        }
    }

    /// Blocks the calling thread (a worker thread, never the cooperative pool).
    public static func sleep(_ seconds: Double) {
        guard seconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
