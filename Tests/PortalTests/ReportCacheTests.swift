import ETL
import Synchronization
import Testing

@testable import Portal

@Suite struct ReportCacheTests {
    /// Counts how often an answer is computed.
    final class Counter: Sendable {
        let calls = Mutex(0)
        func answer(_ text: String) -> [UInt8] {
            calls.withLock { $0 += 1 }
            return Array(text.utf8)
        }
        var count: Int { calls.withLock { $0 } }
    }

    @Test func anAnswerIsKeptUntilTheVersionChanges() {
        let cache = ReportCache(capacity: 8)
        let counter = Counter()
        #expect(cache.answer("summary", version: "1") { counter.answer("a") } == Array("a".utf8))
        #expect(cache.answer("summary", version: "1") { counter.answer("b") } == Array("a".utf8))
        #expect(counter.count == 1)
        // New rows: the old answer must not be served.
        #expect(cache.answer("summary", version: "2") { counter.answer("c") } == Array("c".utf8))
        #expect(counter.count == 2)
    }

    @Test func withoutAVersionNothingIsKept() {
        let cache = ReportCache(capacity: 8)
        let counter = Counter()
        _ = cache.answer("summary", version: nil) { counter.answer("a") }
        #expect(cache.answer("summary", version: nil) { counter.answer("b") } == Array("b".utf8))
        #expect(counter.count == 2)
    }

    @Test func pinnedAnswersOutliveAFloodOfOneOffQuestions() {
        let cache = ReportCache(capacity: 3)
        var computed = 0
        _ = cache.answer("opening", version: "v1", pinned: true) { computed += 1; return [1] }
        _ = cache.answer("asked-first", version: "v1") { computed += 1; return [2] }
        _ = cache.answer("asked-first", version: "v1", pinned: true) { computed += 1; return [9] }  // the warmer pins it
        for index in 0..<50 { _ = cache.answer("one-off-\(index)", version: "v1") { computed += 1; return [3] } }
        #expect(computed == 52)
        #expect(cache.answer("opening", version: "v1") { computed += 1; return [0] } == [1])
        #expect(cache.answer("asked-first", version: "v1") { computed += 1; return [0] } == [2])
        #expect(computed == 52, "both kept through 50 one-off questions")
        // New rows: everything goes, pinned or not.
        #expect(cache.answer("opening", version: "v2") { computed += 1; return [4] } == [4])
    }

    @Test func theOldestAnswersGoFirstPastTheCapacity() {
        let cache = ReportCache(capacity: 2)
        let counter = Counter()
        for key in ["a", "b", "c"] { _ = cache.answer(key, version: "1") { counter.answer(key) } }
        _ = cache.answer("c", version: "1") { counter.answer("c") }
        _ = cache.answer("b", version: "1") { counter.answer("b") }
        #expect(counter.count == 3)
        _ = cache.answer("a", version: "1") { counter.answer("a") }
        #expect(counter.count == 4)
    }

    @Test func cacheKeysTellFiltersApart() {
        let keys = [
            ReportQuestion.summary(ReportFilter()), .summary(ReportFilter(region: "UK")), .summary(ReportFilter(country: "UK")),
            .summary(ReportFilter(product: "UK")), .summary(ReportFilter(fromDay: 1)), .summary(ReportFilter(toDay: 1)),
            .timeSeries(ReportFilter(), .day), .timeSeries(ReportFilter(), .week), .breakdown(ReportFilter(), .region, limit: 10),
            .breakdown(ReportFilter(), .region, limit: 11), .invoices(ReportFilter(), page: 1, pageSize: 25), .options(allowedRegions: nil),
            .options(allowedRegions: ["IN"]), .options(allowedRegions: ["IN", "UK"]),
            .summary(ReportFilter(allowedRegions: ["IN"])), .summary(ReportFilter(allowedRegions: ["IN", "UK"])),
            .summary(ReportFilter(allowedRegions: [])),
        ].map(\.cacheKey)
        #expect(Set(keys).count == keys.count)
    }

    @Test func lookerStudioLinkOnlyInGCPMode() {
        var config = PortalConfig()
        #expect(LookerStudio.reportURL(config) == nil)
        config.storage.mode = "gcp"
        config.gcp.project = "acme-sales"
        config.gcp.dataset = "sales eu"
        // The Linking API's documented form: data-source parameters behind their alias, ds.ds0.
        #expect(LookerStudio.reportURL(config) == "https://lookerstudio.google.com/reporting/create?c.mode=edit"
            + "&r.reportName=Sales%20orders&ds.ds0.datasourceName=Sales%20orders%20%28sales%20eu.orders_report%29"
            + "&ds.ds0.connector=bigQuery&ds.ds0.type=TABLE&ds.ds0.projectId=acme-sales"
            + "&ds.ds0.datasetId=sales%20eu&ds.ds0.tableId=orders_report")
    }
}
