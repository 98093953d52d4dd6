import Synchronization

/// Counts failed sign-ins in a sliding window, per client address and per (user, address):
/// past either limit, sign-ins from there wait. Failures from one address never slow a user
/// signing in from another, so nobody can lock a user out by guessing at their name.
public final class LoginThrottle: Sendable {
    /// The limits.
    public struct Limits: Sendable {
        public var windowSeconds: Int64
        /// Failures from one address, whatever the user names, before it must wait.
        public var maxFailuresPerAddress: Int
        /// Failures for one user from one address before that pair must wait.
        public var maxFailuresPerUser: Int

        public init(windowSeconds: Int64 = 900, maxFailuresPerAddress: Int = 20, maxFailuresPerUser: Int = 5) {
            self.windowSeconds = windowSeconds
            self.maxFailuresPerAddress = maxFailuresPerAddress
            self.maxFailuresPerUser = maxFailuresPerUser
        }
    }

    private let limits: Limits
    /// Failure times (seconds) per key, oldest first; keys are `a ADDRESS` and `u USER ADDRESS`.
    private let failures = Mutex<[String: [Int64]]>([:])
    /// Keys kept at most, so a flood of names cannot grow memory without bound.
    private let maxKeys = 100_000

    public init(limits: Limits) {
        self.limits = limits
    }

    /// nil when a sign-in may be tried now, else the seconds to wait.
    public func retryAfter(user: String, address: String, now: Int64) -> Int? {
        failures.withLock { table in
            var wait: Int64 = 0
            for (key, limit) in keys(user: user, address: address) {
                guard var times = table[key] else { continue }
                times.removeAll { $0 <= now - limits.windowSeconds }
                table[key] = times.isEmpty ? nil : times
                if times.count >= limit, let oldest = times.dropLast(limit - 1).last {
                    wait = max(wait, oldest + limits.windowSeconds - now)
                }
            }
            return wait > 0 ? Int(wait) : nil
        }
    }

    /// Counts a failed sign-in.
    public func recordFailure(user: String, address: String, now: Int64) {
        failures.withLock { table in
            if table.count >= maxKeys { table = table.filter { $0.value.last.map { $0 > now - limits.windowSeconds } ?? false } }
            for (key, limit) in keys(user: user, address: address) {
                var times = table[key] ?? []
                times.append(now)
                if times.count > limit * 2 { times.removeFirst(times.count - limit * 2) }
                table[key] = times
            }
        }
    }

    /// A successful sign-in forgets that user's failures from that address.
    public func recordSuccess(user: String, address: String) {
        _ = failures.withLock { $0.removeValue(forKey: "u \(user.lowercased()) \(address)") }
    }

    private func keys(user: String, address: String) -> [(String, Int)] {
        [("a \(address)", limits.maxFailuresPerAddress), ("u \(user.lowercased()) \(address)", limits.maxFailuresPerUser)]
    }
}
