import Synchronization

/// Report answers (JSON bytes) kept until the warehouse's rows change: the dashboard asks
/// the same questions again and again, and over a million rows each costs a scan.
final class ReportCache: Sendable {
    /// How many answers are kept; the oldest go first. Pinned answers (the dashboard's opening
    /// questions, answered ahead of time) are kept besides and never pushed out by one-off ones.
    let capacity: Int
    private struct State {
        var version: String?
        var answers: [String: [UInt8]] = [:]
        var order: [String] = []
        var pinned: [String: [UInt8]] = [:]
    }
    private let state = Mutex(State())
    private let hitCount = Atomic<Int>(0)
    private let missCount = Atomic<Int>(0)

    /// Questions answered from the cache, and computed.
    var counts: (hits: Int, misses: Int) { (hitCount.load(ordering: .relaxed), missCount.load(ordering: .relaxed)) }

    init(capacity: Int = 256) { self.capacity = capacity }

    /// The answer to `key` at `version`, computed by `compute` when not kept. A nil version is
    /// never cached. `pinned` answers stay until the rows change, whatever else is asked.
    func answer(_ key: String, version: String?, pinned: Bool = false, compute: () throws -> [UInt8]) rethrows -> [UInt8] {
        if let kept = lookup(key, version: version, pinned: pinned) { return kept }
        return try self.compute(key, version: version, pinned: pinned, compute)
    }

    /// The kept answer to `key` at `version` (a hit), or nil. A new version forgets every answer.
    func lookup(_ key: String, version: String?, pinned: Bool = false) -> [UInt8]? {
        guard let version else { return nil }
        let kept: [UInt8]? = state.withLock { state in
            if state.version != version {
                state.version = version
                state.answers.removeAll(keepingCapacity: true)
                state.order.removeAll(keepingCapacity: true)
                state.pinned.removeAll(keepingCapacity: true)
                return nil
            }
            if pinned, let answer = state.answers.removeValue(forKey: key) {
                // Asked before the warmer came: keep it pinned from now on.
                state.order.removeAll { $0 == key }
                state.pinned[key] = answer
            }
            return state.pinned[key] ?? state.answers[key]
        }
        if kept != nil { hitCount.add(1, ordering: .relaxed) }
        return kept
    }

    /// Computes the answer to `key` (a miss) and keeps it for `version`, unless the rows changed meanwhile.
    func compute(_ key: String, version: String?, pinned: Bool = false, _ compute: () throws -> [UInt8]) rethrows -> [UInt8] {
        guard let version else { return try compute() }
        missCount.add(1, ordering: .relaxed)
        let bytes = try compute()
        state.withLock { state in
            guard state.version == version, state.pinned[key] == nil else { return }
            if pinned {
                state.pinned[key] = bytes
                return
            }
            guard state.answers[key] == nil else { return }
            state.answers[key] = bytes
            state.order.append(key)
            if state.order.count > capacity {
                state.answers[state.order.removeFirst()] = nil
            }
        }
        return bytes
    }
}
