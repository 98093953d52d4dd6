import Foundation
import HTTPServer
import Synchronization

/// The portal's metrics, written in Prometheus' text format (0.0.4) by our own small writer:
/// a few counters and histograms under one lock, which is all a scrape every few seconds needs
/// (swift-metrics with swift-prometheus would add two packages to every build for the same text).
final class Metrics: Sendable {
    /// Upper bounds of the latency buckets, in seconds.
    static let latencyBuckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    /// Upper bounds of the load-duration buckets, in seconds.
    static let loadBuckets: [Double] = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900]

    private struct Histogram {
        var buckets: [Int]
        var sum = 0.0
        var count = 0
        init(_ bounds: Int) { buckets = [Int](repeating: 0, count: bounds) }
    }

    private struct State {
        var requests: [String: Int] = [:]          // labels → count
        var latency: [String: Histogram] = [:]     // labels → histogram
        var uploads: [String: Int] = [:]           // status → count
        var rows: [String: Int] = [:]              // loaded | rejected | duplicate → count
        var loadDuration = Histogram(Metrics.loadBuckets.count)
        var bytesReceived = 0
    }

    private let state = Mutex(State())
    /// Where gauges come from at scrape time (set once the server runs).
    private let sources = Mutex<Sources>(Sources())

    struct Sources: Sendable {
        var serverLoad: (@Sendable () -> ServerLoad)?
        var cacheCounts: (@Sendable () -> (hits: Int, misses: Int))?
        var insertAll: (@Sendable () -> (requests: Int, rows: Int, jsonBytes: Int, sentBytes: Int))?
    }

    func setSources(_ change: (inout Sources) -> Void) { sources.withLock { change(&$0) } }

    /// One answered request of route `pattern`.
    func recordRequest(method: String, pattern: String, status: Int, seconds: Double, bodyBytes: Int) {
        let labels = "method=\"\(method)\",route=\"\(Self.escape(pattern))\""
        let bucket = Self.latencyBuckets.firstIndex { seconds <= $0 }
        state.withLock { state in
            state.requests[labels + ",status=\"\(status)\"", default: 0] += 1
            var histogram = state.latency[labels] ?? Histogram(Self.latencyBuckets.count)
            if let bucket { histogram.buckets[bucket] += 1 }
            histogram.sum += seconds
            histogram.count += 1
            state.latency[labels] = histogram
            state.bytesReceived += bodyBytes
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
        for (labels, count) in snapshot.requests.sorted(by: { $0.key < $1.key }) {
            sample("sales_portal_http_requests_total", labels, Double(count))
        }
        family("sales_portal_http_request_duration_seconds", "histogram", "Time to answer a request, by method and route template.")
        for (labels, latency) in snapshot.latency.sorted(by: { $0.key < $1.key }) {
            histogram("sales_portal_http_request_duration_seconds", labels, latency, Self.latencyBuckets)
        }
        family("sales_portal_http_request_body_bytes_total", "counter", "Request body bytes received by routed requests.")
        sample("sales_portal_http_request_body_bytes_total", "", Double(snapshot.bytesReceived))
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
    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
