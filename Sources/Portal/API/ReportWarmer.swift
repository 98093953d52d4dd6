import ETL
import Foundation
import Support

/// Answers the dashboard's opening questions ahead of time: a thread of its own checks the
/// warehouse's data version now and then and, once it has stopped changing (a load is over),
/// fills the cache, so the first visit after an upload is as quick as the next ones.
/// Only for warehouses that report a data version (SQLite), never for BigQuery (queries cost).
final class ReportWarmer: Sendable {
    let warehouse: any ReportingWarehouse
    let cache: ReportCache
    let context: ReportContext
    let intervalSeconds: Double

    init(warehouse: any ReportingWarehouse, cache: ReportCache, context: ReportContext, intervalSeconds: Double) {
        self.warehouse = warehouse
        self.cache = cache
        self.context = context
        self.intervalSeconds = intervalSeconds
    }

    /// Starts the checking thread; it lives as long as the process.
    func start() {
        PThread.detach { [self] in run() }
    }

    private func run() {
        var previous: String?
        var warmed: String?
        while true {
            PThread.sleep(seconds: intervalSeconds)
            guard let version = try? warehouse.reportDataVersion() else { return }  // no versions: nothing to warm
            defer { previous = version }
            // Settled: the same version twice in a row, and not warmed yet.
            guard version == previous, version != warmed else { continue }
            warmed = version  // a load starting meanwhile gives a new version, warmed once it settles
            let options = try? warehouse.reportOptions()
            for question in ReportQuestion.dashboardOpening(options: options) {
                // New rows meanwhile: these answers would be thrown away; wait until they settle.
                guard (try? warehouse.reportDataVersion()) == version else { break }
                _ = try? cache.answer(question.cacheKey, version: version, pinned: true) { try question.answer(warehouse, context) }
            }
        }
    }
}
