import ETL
import HTTPServer
import Support

/// Taking an upload back (`DELETE /api/uploads/{id}`) and the audit trail (`GET /api/audit`,
/// the `/audit` page).
enum AuditRoutes {
    static func add(to router: inout SecuredRouter, processor: UploadProcessor, pages: Pages?, audit: AuditLog) {
        // On the upload threads: removing a large upload's rows is a load's worth of work.
        router.add("DELETE", "/api/uploads/{id}", access: .uploader, regions: .record, .streaming { request, caller in
            BodyDiscardingConsumer { try retract(request, caller: caller, processor: processor, audit: audit) }
        })
        router.add("GET", "/api/audit", access: .admin, .blocking { request, _ in
            let head = request.head
            func text(_ name: String) -> String? {
                guard let value = head.queryValue(name)?.trimmingSpaces(), !value.isEmpty else { return nil }
                return value
            }
            var query = AuditQuery(actor: text("user"), kind: text("kind"), limit: 50)
            if let limit = text("limit") {
                guard let number = Int(limit), (1...500).contains(number) else {
                    throw PortalError.badRequest(code: "bad_limit", message: "limit must be a whole number from 1 to 500")
                }
                query.limit = number
            }
            if let before = text("before") {
                guard let micros = Int64(before) else {
                    throw PortalError.badRequest(code: "bad_before", message: "before must be the next_before of the previous page")
                }
                query.beforeMicros = micros
            }
            let events = try Routes.warehouseCall { try processor.warehouse.auditEvents(query) }
            var json = JSONWriter(capacity: 256 * max(1, events.count))
            json.beginObject()
            json.key("events")
            json.beginArray()
            for event in events {
                json.beginObject()
                json.field("at", Clock.isoTimestamp(micros: event.atMicros))
                json.field("user", event.actor)
                json.field("kind", event.kind)
                json.field("subject", event.subject)
                json.field("address", event.address)
                json.field("detail", event.detail)
                json.endObject()
            }
            json.endArray()
            json.key("next_before")
            if events.count == query.limit, let last = events.last { json.value(String(last.atMicros)) } else { json.value(nil as String?) }
            json.endObject()
            var response = HTTPResponse.json(200, json.bytes)
            response.headers.add("Cache-Control", "no-store")
            return response
        })
        if let pages {
            router.add("GET", "/audit", access: .admin, kind: .page, .immediate { _, caller in
                pages.auditPage(caller)
            })
        }
    }


    /// Takes upload `{id}` back: its uploader or an admin, once its load is over.
    private static func retract(_ request: HTTPRequest, caller: Caller, processor: UploadProcessor,
                                audit: AuditLog) throws -> HTTPResponse {
        let id = request.pathParameters["id"] ?? ""
        guard UploadID.isValid(id), let record = try Routes.warehouseCall({ try processor.warehouse.upload(id: id) }),
              caller.mayAccess(region: record.region)
        else {
            throw PortalError.notFound("no upload with id \"\(id)\"")
        }
        let isAdmin = caller.principal.has(.admin)
        guard isAdmin || record.user.lowercased() == caller.principal.name.lowercased() else {
            throw HTTPError(status: 403, code: "forbidden",
                            message: "only \(record.user), who uploaded it, or an admin may take upload \(id) back")
        }
        let result: UploadRecord
        do {
            // Recorded as it starts, so a retraction finished after a restart is in the trail too.
            result = try processor.retract(record, by: caller.principal.name) {
                audit.record(kind: "retraction", actor: caller.principal.name, subject: id, address: caller.address,
                             detail: "took back \(record.fileName) (\(record.region)): \(record.rows.loaded) rows, revenue \(record.revenue.formatted(places: 2)) \(record.currency)")
            }
        } catch UploadProcessor.RetractionRefusal.stillLoading(let status) {
            throw HTTPError(status: 409, code: "still_loading",
                            message: "upload \(id) is \(status.rawValue): take it back once its load is over")
        } catch {
            throw PortalError.warehouse("the retraction of upload \(id) stopped: \(error); it is finished on the next start")
        }
        return .json(200, UploadJSON.single(result, showPaths: isAdmin))
    }

}

/// Writes the audit trail; a failure to write is logged, never the reason a request fails.
final class AuditLog: Sendable {
    private let warehouse: any Warehouse
    private let log: @Sendable (String) -> Void

    init(warehouse: any Warehouse, log: @escaping @Sendable (String) -> Void) {
        self.warehouse = warehouse
        self.log = log
    }

    func record(kind: String, actor: String, subject: String, address: String, detail: String) {
        let event = AuditEvent(atMicros: Clock.nowMicros(), actor: actor, kind: kind, subject: subject, address: address, detail: detail)
        do { try warehouse.recordAudit(event) } catch {
            log("audit trail: cannot record \(kind) by \(actor): \(error)")
        }
    }

    /// Records an upload (kind `upload`): its file, region, status, rows and revenue.
    func recordUpload(_ record: UploadRecord?, fileName: String, actor: String, address: String, errorMessage: String? = nil) {
        let status = record?.status.rawValue ?? "rejected"
        self.record(kind: "upload", actor: actor, subject: record?.id ?? "", address: address,
                    detail: "\(fileName) (\(record.map { $0.region.isEmpty ? "no region" : $0.region } ?? "no region")): \(status), "
                        + "\(record?.rows.loaded ?? 0) rows loaded, "
                        + "revenue \((record?.revenue ?? .zero).formatted(places: 2)) \(record?.currency ?? "")"
                        + ((errorMessage ?? record?.errorMessage).map { "; \($0)" } ?? ""))
    }

}
