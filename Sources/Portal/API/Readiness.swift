import Foundation
import HTTPServer
import Support
import Synchronization

/// `GET /readyz` for load balancers: the object store and the warehouse answered their last
/// check (made every few seconds on a thread of its own, so the answer never waits for them),
/// and the server is not saturated (queries queueing for a worker), so a balancer routes new
/// work to a replica that has room. Answered at once on the event loop. A failing check answers
/// `failed` and nothing more (the endpoint is open to all); its detail goes to the log.
final class Readiness: Sendable {
    private let processor: UploadProcessor
    private let problems = Mutex<[(check: String, problem: String)]>([])
    private let loadSource = Mutex<(@Sendable () -> ServerLoad)?>(nil)
    private let log: @Sendable (String) -> Void

    /// Checks once now, so the first answer is already a real one.
    init(processor: UploadProcessor, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.processor = processor
        self.log = log
        check()
    }

    /// Where the server's load is read from, once the server runs.
    func attach(load: @escaping @Sendable () -> ServerLoad) {
        loadSource.withLock { $0 = load }
    }

    /// Checks the stores again every `interval` seconds, on a thread of its own.
    func startMonitoring(interval: Double = 5) {
        PThread.detach { [self] in
            while true {
                PThread.sleep(seconds: interval)
                check()
            }
        }
    }

    private func check() {
        var found: [(check: String, problem: String)] = []
        do { try processor.store.checkReady() } catch { found.append(("object_store", "\(error)")) }
        do { try processor.warehouse.checkReady() } catch { found.append(("warehouse", "\(error)")) }
        let before = problems.withLock { current in
            defer { current = found }
            return current
        }
        // Logged when a problem appears or changes, and once when it is over: not every few seconds.
        for (name, problem) in found where !before.contains(where: { $0.check == name && $0.problem == problem }) {
            log("readiness: the \(name.replacingOccurrences(of: "_", with: " ")) check failed: \(problem)")
        }
        for (name, _) in before where !found.contains(where: { $0.check == name }) {
            log("readiness: the \(name.replacingOccurrences(of: "_", with: " ")) check passes again")
        }
    }

    /// `{"status": "ready" | "not_ready" | "saturated", "checks": {…}, "load": {…}}`; 503 unless ready.
    func response() -> HTTPResponse {
        let found = problems.withLock { $0 }
        let load = loadSource.withLock { $0 }?() ?? ServerLoad()
        let status = !found.isEmpty ? "not_ready" : load.isSaturated ? "saturated" : "ready"
        var json = JSONWriter()
        json.beginObject()
        json.field("status", status)
        json.key("checks")
        json.beginObject()
        for name in ["object_store", "warehouse"] {
            json.field(name, found.contains(where: { $0.check == name }) ? "failed" : "ok")
        }
        json.endObject()
        json.key("load")
        json.beginObject()
        json.field("queued_queries", load.queuedQueries)
        json.field("running_queries", load.runningQueries)
        json.field("query_threads", load.queryThreads)
        json.field("queued_uploads", load.queuedUploads)
        json.field("running_uploads", load.runningUploads)
        json.field("uploads_in_progress", load.uploadsInProgress)
        json.field("upload_threads", load.uploadThreads)
        json.endObject()
        json.endObject()
        var response = HTTPResponse.json(status == "ready" ? 200 : 503, json.bytes)
        response.headers.add("Cache-Control", "no-store")
        if status == "saturated" { response.headers.add("Retry-After", "1") }
        return response
    }
}
