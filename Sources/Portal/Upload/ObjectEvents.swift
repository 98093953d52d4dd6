import Access
import Crypto
import ETL
import Foundation

/// `gcsEvents.objectPattern`, compiled: which object names are loaded, and the region text and
/// file name each gives.
struct ObjectPattern: Sendable, Equatable {
    /// One `/`-separated part of a pattern.
    enum Segment: Sendable, Equatable {
        case literal(String)
        /// One segment naming the region (a code or an alias).
        case region
        /// The file name: the last segment.
        case name
    }

    let segments: [Segment]

    /// Compiles `incoming/{region}/{name}`-style text; `{name}` must be the last segment.
    init(_ text: String) throws(ConfigError) {
        var segments: [Segment] = []
        for part in text.split(separator: "/", omittingEmptySubsequences: false) {
            switch part {
            case "{region}": segments.append(.region)
            case "{name}": segments.append(.name)
            case "": throw .invalid("gcsEvents.objectPattern \"\(text)\" has an empty segment")
            default:
                guard !part.contains("{"), !part.contains("}") else {
                    throw .invalid("gcsEvents.objectPattern \"\(text)\": a segment is literal text, {region} or {name}, not \"\(part)\"")
                }
                segments.append(.literal(String(part)))
            }
        }
        guard segments.last == .name, segments.filter({ $0 == .name }).count == 1 else {
            throw .invalid("gcsEvents.objectPattern \"\(text)\" must end with {name}, once")
        }
        guard segments.filter({ $0 == .region }).count <= 1 else {
            throw .invalid("gcsEvents.objectPattern \"\(text)\" names {region} more than once")
        }
        self.segments = segments
    }

    /// The region text (nil when the pattern has no `{region}`) and the file name of an object
    /// name; nil when the name does not fit the pattern.
    func match(_ objectName: String) -> (region: String?, fileName: String)? {
        let parts = objectName.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == segments.count else { return nil }
        var region: String?
        var fileName = ""
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let text): guard part == text else { return nil }
            case .region:
                guard !part.isEmpty else { return nil }
                region = String(part)
            case .name:
                guard !part.isEmpty else { return nil }
                fileName = String(part)
            }
        }
        return (region, fileName)
    }
}

/// What a Pub/Sub push of a Cloud Storage notification says: the event and the object, from the
/// message's attributes (`eventType`, `bucketId`, `objectId`, `objectGeneration`) or, where
/// they are missing, from its data (the object resource, `JSON_API_V1`).
struct ObjectEvent: Sendable, Equatable {
    var eventType: String
    var bucket: String
    var objectName: String
    var generation: String
    /// The object's size as the notification gives it; 0 when it does not.
    var sizeBytes: Int64
    var messageID: String

    /// `gs://bucket/object`.
    var uri: String { "gs://\(bucket)/\(objectName)" }

    /// The upload id of this object generation: the same for every delivery of its event.
    var uploadID: String { UploadID.forObject(bucket: bucket, name: objectName, generation: generation) }

    /// Reads a push body; throws `badRequest` for a body that is not a push of a notification.
    static func parse(_ body: [UInt8]) throws(PortalError) -> ObjectEvent {
        guard let push = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let message = push["message"] as? [String: Any]
        else {
            throw .badRequest(code: "bad_push", message: "the body is not a Pub/Sub push: {\"message\": {…}, \"subscription\": …}")
        }
        let attributes = message["attributes"] as? [String: Any] ?? [:]
        var resource: [String: Any] = [:]
        if let data = message["data"] as? String, let bytes = Base64URL.decode(data),
           let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] {
            resource = object
        }
        func text(_ attribute: String, _ field: String) -> String {
            (attributes[attribute] as? String) ?? (resource[field] as? String) ?? ""
        }
        let event = ObjectEvent(
            eventType: (attributes["eventType"] as? String) ?? "",
            bucket: text("bucketId", "bucket"), objectName: text("objectId", "name"),
            generation: text("objectGeneration", "generation"),
            sizeBytes: (resource["size"] as? String).flatMap { Int64($0) } ?? 0,
            messageID: (message["messageId"] as? String) ?? (message["message_id"] as? String) ?? "")
        guard !event.eventType.isEmpty else {
            throw .badRequest(code: "bad_push", message: "the message has no eventType attribute: is it a Cloud Storage notification?")
        }
        if event.eventType == ObjectEvent.finalize {
            guard !event.bucket.isEmpty, !event.objectName.isEmpty, !event.generation.isEmpty,
                  event.generation.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 })
            else {
                throw .badRequest(code: "bad_push", message: "the notification names no bucket, object or generation")
            }
        }
        return event
    }

    /// The event of a new object (or a new generation of one).
    static let finalize = "OBJECT_FINALIZE"
}

extension UploadID {
    /// The id of the upload of one object generation: 20 hex digits of the SHA-256 of its
    /// `gs://` URI and generation, so every delivery of its notification names the same upload.
    static func forObject(bucket: String, name: String, generation: String) -> String {
        let digest = SHA256.hash(data: Array("gs://\(bucket)/\(name)#\(generation)".utf8))
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest.prefix(10) {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
