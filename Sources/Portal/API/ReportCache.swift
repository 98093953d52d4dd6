import Synchronization

/// Report answers (JSON bytes) kept until the warehouse's rows change: the dashboard asks
/// the same questions again and again, and over a million rows each costs a scan.
final class ReportCache: Sendable {
    /// How many answers are kept; the oldest go first.
    let capacity: Int
    private struct State {
        var version: String?
        var answers: [String: [UInt8]] = [:]
        var order: [String] = []
    }
    private let state = Mutex(State())

    init(capacity: Int = 256) { self.capacity = capacity }

    /// The answer to `key` at `version`, computed by `compute` when not kept. A nil version is never cached.
    func answer(_ key: String, version: String?, compute: () throws -> [UInt8]) rethrows -> [UInt8] {
        guard let version else { return try compute() }
        let kept: [UInt8]? = state.withLock { state in
            if state.version != version {
                state.version = version
                state.answers.removeAll(keepingCapacity: true)
                state.order.removeAll(keepingCapacity: true)
                return nil
            }
            return state.answers[key]
        }
        if let kept { return kept }
        let bytes = try compute()
        state.withLock { state in
            guard state.version == version, state.answers[key] == nil else { return }
            state.answers[key] = bytes
            state.order.append(key)
            if state.order.count > capacity {
                state.answers[state.order.removeFirst()] = nil
            }
        }
        return bytes
    }
}
