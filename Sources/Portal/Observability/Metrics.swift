import Foundation
import HTTPServer
import Synchronization

/// The portal's metrics, written in Prometheus' text format (0.0.4) by our own small writer:
/// a few counters and histograms, which is all a scrape every few seconds needs (swift-metrics
/// with swift-prometheus would add two packages to every build for the same text). Requests are
/// counted by each route's own `RouteMeter`, made when the route is added: counting an answer is
/// a few integer additions under that route's lock, with no text built.
final class Metrics: Sendable {
    /// Upper bounds of the latency buckets, in seconds.
    static let latencyBuckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    /// Upper bounds of the load-duration buckets, in seconds.
    static let loadBuckets: [Double] = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900]

    struct Histogram {
        var buckets: [Int]
        var sum = 0.0
        var count = 0
        init(_ bounds: Int) { buckets = [Int](repeating: 0, count: bounds) }
    }

    private struct State {
        var uploads: [String: Int] = [:]           // status → count
        var rows: [String: Int] = [:]              // loaded | rejected | duplicate → count
        var loadDuration = Histogram(Metrics.loadBuckets.count)
    }

    /// False when `server.metrics` is off: routes are not measured and `/metrics` is not served.
    let countsRequests: Bool
    private let state = Mutex(State())
    /// The meters of the routes, by route template.
    private let meters = Mutex<[String: RouteMeter]>([:])
    /// Where gauges come from at scrape time (set once the server runs).
    private let sources = Mutex<Sources>(Sources())

    struct Sources: Sendable {
        var serverLoad: (@Sendable () -> ServerLoad)?
        var cacheCounts: (@Sendable () -> (hits: Int, misses: Int))?
        var insertAll: (@Sendable () -> (requests: Int, rows: Int, jsonBytes: Int, sentBytes: Int))?
    }

    init(countsRequests: Bool = true) {
        self.countsRequests = countsRequests
    }

    /// Counts an answer the server gave without the route's handler (see `HTTPServerConfiguration.onRefusal`).
    func recordRefusal(_ refused: RefusedRequest) {
        guard countsRequests else { return }
        meter(route: refused.route).record(method: refused.method, status: refused.status, seconds: refused.seconds,
                                           bodyBytes: refused.bodyBytes)
    }

    func setSources(_ change: (inout Sources) -> Void) { sources.withLock { change(&$0) } }

    /// The meter of route template `pattern` (one per template, whatever adds it).
    func meter(route pattern: String) -> RouteMeter {
        meters.withLock { meters in
            if let meter = meters[pattern] { return meter }
            let meter = RouteMeter(routeLabel: "route=\"\(Self.escape(pattern))\"")
            meters[pattern] = meter
            return meter
        }
    }

    /// One upload's outcome.
    func recordUpload(status: String, loaded: Int, rejected: Int, duplicates: Int, loadSeconds: Double?) {
        state.withLock { state in
            state.uploads[status, default: 0] += 1
            state.rows["loaded", default: 0] += loaded
            state.rows["rejected", default: 0] += rejected
            state.rows["duplicate", default: 0] += duplicates
            if let loadSeconds {
                if let bucket = Self.loadBuckets.firstIndex(where: { loadSeconds <= $0 }) { state.loadDuration.buckets[bucket] += 1 }
                state.loadDuration.sum += loadSeconds
                state.loadDuration.count += 1
            }
        }
    }

    /// The exposition text.
    func render() -> [UInt8] {
        let snapshot = state.withLock { $0 }
        let sources = self.sources.withLock { $0 }
        let routes = meters.withLock { $0 }.sorted { $0.key < $1.key }.map { ($0.value.routeLabel, $0.value.snapshot()) }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: String, _ value: Double) {
            out += labels.isEmpty ? "\(name) \(Self.number(value))\n" : "\(name){\(labels)} \(Self.number(value))\n"
        }
        func histogram(_ name: String, _ labels: String, _ histogram: Histogram, _ bounds: [Double]) {
            var cumulative = 0
            let prefix = labels.isEmpty ? "" : labels + ","
            for (index, bound) in bounds.enumerated() {
                cumulative += histogram.buckets[index]
                sample(name + "_bucket", prefix + "le=\"\(Self.number(bound))\"", Double(cumulative))
            }
            sample(name + "_bucket", prefix + "le=\"+Inf\"", Double(histogram.count))
            sample(name + "_sum", labels, histogram.sum)
            sample(name + "_count", labels, Double(histogram.count))
        }
        family("sales_portal_http_requests_total", "counter", "HTTP requests answered, by method, route template and status.")
        for (route, counts) in routes {
            for (method, byMethod) in counts.methods.sorted(by: { $0.key < $1.key }) {
                for (status, count) in byMethod.statuses.sorted(by: { $0.key < $1.key }) {
                    sample("sales_portal_http_requests_total", "method=\"\(Self.escape(method))\",\(route),status=\"\(status)\"", Double(count))
                }
            }
        }
        family("sales_portal_http_request_duration_seconds", "histogram", "Time to answer a request, by method and route template.")
        for (route, counts) in routes {
            for (method, byMethod) in counts.methods.sorted(by: { $0.key < $1.key }) {
                histogram("sales_portal_http_request_duration_seconds", "method=\"\(Self.escape(method))\",\(route)",
                          byMethod.latency, Self.latencyBuckets)
            }
        }
        family("sales_portal_http_request_body_bytes_total", "counter", "Request body bytes received by routed requests.")
        sample("sales_portal_http_request_body_bytes_total", "", Double(routes.reduce(0) { $0 + $1.1.bodyBytes }))
        family("sales_portal_uploads_total", "counter", "Uploaded files by their outcome.")
        for (status, count) in snapshot.uploads.sorted(by: { $0.key < $1.key }) {
            sample("sales_portal_uploads_total", "status=\"\(Self.escape(status))\"", Double(count))
        }
        family("sales_portal_rows_total", "counter", "Rows of uploaded files: loaded, rejected, or duplicates of rows loaded.")
        for outcome in ["loaded", "rejected", "duplicate"] {
            sample("sales_portal_rows_total", "outcome=\"\(outcome)\"", Double(snapshot.rows[outcome] ?? 0))
        }
        family("sales_portal_load_duration_seconds", "histogram", "Time to load an upload's rows into the warehouse.")
        histogram("sales_portal_load_duration_seconds", "", snapshot.loadDuration, Self.loadBuckets)
        if let cache = sources.cacheCounts?() {
            family("sales_portal_report_cache_requests_total", "counter", "Report questions answered from the cache (hit) or computed (miss).")
            sample("sales_portal_report_cache_requests_total", "result=\"hit\"", Double(cache.hits))
            sample("sales_portal_report_cache_requests_total", "result=\"miss\"", Double(cache.misses))
        }
        if let insert = sources.insertAll?() {
            family("sales_portal_bigquery_insertall_requests_total", "counter", "BigQuery insertAll requests sent for order rows.")
            sample("sales_portal_bigquery_insertall_requests_total", "", Double(insert.requests))
            family("sales_portal_bigquery_insertall_rows_total", "counter", "Order rows sent with insertAll.")
            sample("sales_portal_bigquery_insertall_rows_total", "", Double(insert.rows))
            family("sales_portal_bigquery_insertall_bytes_total", "counter", "insertAll body bytes, as JSON and as sent (gzip).")
            sample("sales_portal_bigquery_insertall_bytes_total", "form=\"json\"", Double(insert.jsonBytes))
            sample("sales_portal_bigquery_insertall_bytes_total", "form=\"sent\"", Double(insert.sentBytes))
        }
        if let load = sources.serverLoad?() {
            family("sales_portal_open_connections", "gauge", "Client connections open now.")
            sample("sales_portal_open_connections", "", Double(load.openConnections))
            family("sales_portal_uploads_in_progress", "gauge", "Uploads being received or loaded now.")
            sample("sales_portal_uploads_in_progress", "", Double(load.uploadsInProgress))
            family("sales_portal_queued_requests", "gauge", "Requests waiting for a worker thread, by pool.")
            sample("sales_portal_queued_requests", "pool=\"queries\"", Double(load.queuedQueries))
            sample("sales_portal_queued_requests", "pool=\"uploads\"", Double(load.queuedUploads))
        }
        family("sales_portal_resident_memory_bytes", "gauge", "Resident memory of the process.")
        sample("sales_portal_resident_memory_bytes", "", Double(Self.residentBytes()))
        return Array(out.utf8)
    }

    /// The process's resident set, from /proc/self/statm.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// A sample value: integers without a fraction.
    private static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// A label value: backslash, quote and line feed escaped.
    static func escape(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// The request counters of one route template: answers by method and status, their latency
/// and the body bytes received, under the route's own lock.
final class RouteMeter: Sendable {
    /// `route="…"`, escaped once.
    let routeLabel: String

    struct MethodCounts: Sendable {
        var statuses: [Int: Int] = [:]
        var latency = Metrics.Histogram(Metrics.latencyBuckets.count)
    }

    struct Counts: Sendable {
        var methods: [String: MethodCounts] = [:]
        var bodyBytes = 0
    }

    private let counts = Mutex(Counts())

    init(routeLabel: String) { self.routeLabel = routeLabel }

    /// Counts one answer.
    func record(method: String, status: Int, seconds: Double, bodyBytes: Int) {
        let bucket = Metrics.latencyBuckets.firstIndex { seconds <= $0 }
        counts.withLock { counts in
            counts.bodyBytes += bodyBytes
            counts.methods[method, default: MethodCounts()].statuses[status, default: 0] += 1
            if let bucket { counts.methods[method, default: MethodCounts()].latency.buckets[bucket] += 1 }
            counts.methods[method, default: MethodCounts()].latency.sum += seconds
            counts.methods[method, default: MethodCounts()].latency.count += 1
        }
    }

    func snapshot() -> Counts { counts.withLock { $0 } }
}
