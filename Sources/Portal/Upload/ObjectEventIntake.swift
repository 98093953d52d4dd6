import Access
import ETL
import Foundation
import HTTPServer
import Support
import Synchronization

/// Loads the files dropped into the bucket, as the original Cloud Function did: Cloud Storage
/// notifications reach `POST /api/events/gcs` through a Pub/Sub push subscription. A push is
/// admitted only with Google's ID token for the configured push service account, acknowledged
/// at once, and its object loaded in place on a thread of its own: recorded with the service
/// account as its user, loaded like an upload (a load cut short resumes on the next start),
/// and never twice for one object generation.
final class ObjectEventIntake: Sendable {
    /// Notifications waiting for the loading thread; beyond this a push is refused with 503 and
    /// Pub/Sub sends it again later.
    static let maxPending = 1000

    let bucket: String
    let pattern: ObjectPattern
    private let verifier: PushTokenVerifier
    private let processor: UploadProcessor
    private let audit: AuditLog
    private let log: @Sendable (String) -> Void
    private let queue = Mutex<(pending: [Accepted], queued: Set<String>)>(([], []))
    private let wakeup = DispatchSemaphore(value: 0)

    /// One notification of an object that fits the pattern, with who pushed it from where.
    struct Accepted: Sendable {
        var event: ObjectEvent
        var regionText: String?
        var fileName: String
        var account: String
        var address: String
        /// The id of the push request that brought the event.
        var requestID: String?
    }

    /// The intake of the configuration (nil when `gcsEvents.enabled` is false), with Google's
    /// keys read and its loading thread started.
    static func make(config: PortalConfig, processor: UploadProcessor, audit: AuditLog,
                     log: @escaping @Sendable (String) -> Void) throws -> ObjectEventIntake? {
        let settings = config.gcsEvents
        guard settings.enabled else { return nil }
        let source: JWKSource = settings.keysFile.isEmpty
            ? .url(settings.keysURL, fetch: { url in try IAPKeyFetch.fetch(url) })
            : .file(FileSystem.absolute(settings.keysFile))
        let verifier = try PushTokenVerifier(audience: settings.audience, serviceAccount: settings.serviceAccount, source: source)
        try verifier.loadKeys(now: Gatekeeper.now())
        let intake = ObjectEventIntake(
            bucket: settings.bucket.isEmpty ? config.gcp.bucket : settings.bucket, pattern: try ObjectPattern(settings.objectPattern),
            verifier: verifier, processor: processor, audit: audit, log: log)
        PThread.detach { intake.run() }
        return intake
    }

    init(bucket: String, pattern: ObjectPattern, verifier: PushTokenVerifier, processor: UploadProcessor, audit: AuditLog,
         log: @escaping @Sendable (String) -> Void) {
        self.bucket = bucket
        self.pattern = pattern
        self.verifier = verifier
        self.processor = processor
        self.audit = audit
        self.log = log
    }

    // MARK: - The push

    /// Answers one push: 401 or 403 for a caller that is not the push service account, 400 for
    /// a body that is no notification, 202 for an object to load (or loaded already), 204 for a
    /// notification that is acknowledged and ignored, 503 when too many wait.
    func receive(_ request: HTTPRequest) throws -> HTTPResponse {
        let account: String
        do {
            account = try verifier.verify(authorization: request.head.headers["authorization"], now: Gatekeeper.now())
        } catch .forbidden(let message) {
            throw HTTPError(status: 403, code: "forbidden", message: message)
        } catch {
            throw HTTPError(status: 401, code: "unauthenticated", message: "\(error)",
                            extraHeaders: ["WWW-Authenticate": #"Bearer realm="sales-portal", error="invalid_token""#])
        }
        let event = try ObjectEvent.parse(request.body)
        guard event.eventType == ObjectEvent.finalize else {
            return ignored(event, "a \(event.eventType) event is not a new object")
        }
        guard event.bucket == bucket else {
            return ignored(event, "the bucket is not gcsEvents.bucket (\(bucket))")
        }
        guard let match = pattern.match(event.objectName) else {
            return ignored(event, "the object is outside gcsEvents.objectPattern")
        }
        let accepted = Accepted(event: event, regionText: match.region, fileName: match.fileName, account: account,
                                address: request.clientAddress, requestID: request.requestID)
        let uploadID = event.uploadID
        let queued: Bool? = queue.withLock { queue in
            if queue.queued.contains(uploadID) { return false }
            guard queue.pending.count < Self.maxPending else { return nil }
            queue.pending.append(accepted)
            queue.queued.insert(uploadID)
            return true
        }
        guard let queued else {
            throw HTTPError(status: 503, code: "busy", message: "\(Self.maxPending) notifications wait to be loaded; send it again later")
        }
        if queued { wakeup.signal() }
        var json = JSONWriter()
        json.beginObject()
        json.field("status", "accepted")
        json.field("upload_id", uploadID)
        json.field("object_uri", event.uri)
        json.endObject()
        return .json(202, json.bytes)
    }

    private func ignored(_ event: ObjectEvent, _ reason: String) -> HTTPResponse {
        log("object notification \(event.messageID) for \(event.uri) ignored: \(reason)")
        return HTTPResponse(status: 204)
    }

    // MARK: - The loading thread

    /// Loads what was accepted, one object at a time; never returns.
    private func run() {
        while true {
            wakeup.wait()
            guard let next = queue.withLock({ $0.pending.isEmpty ? nil : $0.pending.removeFirst() }) else { continue }
            load(next)
            _ = queue.withLock { $0.queued.remove(next.event.uploadID) }
        }
    }

    /// Records and loads one object generation, unless it was recorded before.
    func load(_ accepted: Accepted) {
        let event = accepted.event
        let uploadID = event.uploadID
        do {
            if let earlier = try processor.warehouse.upload(id: uploadID) {
                log("\(event.uri) generation \(event.generation) is upload \(uploadID) already (\(earlier.status.rawValue)): nothing is loaded again")
                return
            }
        } catch {
            log("\(event.uri): cannot look up upload \(uploadID) (\(error)); the notification is dropped: load the object again by hand")
            return
        }
        let record = processor.processDropped(accepted, uploadID: uploadID, log: log)
        guard let record else { return }
        audit.recordUpload(record, fileName: accepted.fileName, actor: accepted.account, address: accepted.address)
        log("\(event.uri): upload \(record.id) \(record.status.rawValue), \(record.rows.loaded) rows loaded")
    }
}
