import Foundation

/// Loads and retractions of one region, kept apart: any number of loads run together (shared),
/// a retraction runs alone (exclusive). Without it, a load could skip rows as duplicates of an
/// upload whose rows a retraction is deleting, and those rows would end up nowhere. A waiting
/// retraction goes first: loads that arrive after it wait, so it cannot be starved. Not
/// reentrant: a holder must not enter the same region again. Blocking: upload threads only.
final class RegionGate: Sendable {
    // @unchecked Sendable: every field of `State` is read and written only with `condition` locked.
    private final class State: @unchecked Sendable {
        var loads: [String: Int] = [:]
        var retracting: Set<String> = []
        var waitingRetractions: [String: Int] = [:]
    }

    private let condition = NSCondition()
    private let state = State()

    /// Runs `body` as one of the loads of `region`.
    func load<T>(_ region: String, _ body: () throws -> T) rethrows -> T {
        condition.lock()
        while state.retracting.contains(region) || state.waitingRetractions[region, default: 0] > 0 { condition.wait() }
        state.loads[region, default: 0] += 1
        condition.unlock()
        defer {
            condition.lock()
            state.loads[region, default: 1] -= 1
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }

    /// Runs `body` with no load of `region` running and none starting.
    func retract<T>(_ region: String, _ body: () throws -> T) rethrows -> T {
        condition.lock()
        state.waitingRetractions[region, default: 0] += 1
        while state.retracting.contains(region) || state.loads[region, default: 0] > 0 { condition.wait() }
        state.waitingRetractions[region, default: 1] -= 1
        state.retracting.insert(region)
        condition.unlock()
        defer {
            condition.lock()
            state.retracting.remove(region)
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }
}
