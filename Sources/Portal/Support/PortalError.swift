import ETL
import HTTPServer
import Support

/// Everything that can go wrong in the portal, with the HTTP answer each gets.
public enum PortalError: HTTPResponseError, Sendable, CustomStringConvertible {
    /// The request is malformed (no file, bad multipart, bad query value).
    case badRequest(code: String, message: String)
    /// The region is missing or unknown: 422, nothing stored.
    case unknownRegion(String)
    /// The request is too large.
    case tooLarge(String)
    /// The body is not multipart/form-data.
    case unsupportedMediaType(String)
    /// An upload or resource that does not exist.
    case notFound(String)
    /// The object store failed.
    case storage(String)
    /// The warehouse failed.
    case warehouse(String)
    /// The configuration cannot be used.
    case configuration(String)

    public var description: String {
        switch self {
        case .badRequest(_, let message), .unknownRegion(let message), .tooLarge(let message), .unsupportedMediaType(let message),
            .notFound(let message), .storage(let message), .warehouse(let message), .configuration(let message):
            message
        }
    }

    /// The machine-readable code of the JSON error body.
    public var code: String {
        switch self {
        case .badRequest(let code, _): code
        case .unknownRegion: "unknown_region"
        case .tooLarge: "too_large"
        case .unsupportedMediaType: "unsupported_media_type"
        case .notFound: "not_found"
        case .storage: "storage_failed"
        case .warehouse: "warehouse_failed"
        case .configuration: "configuration"
        }
    }

    /// The HTTP status this error answers with.
    public var status: Int {
        switch self {
        case .badRequest: 400
        case .unknownRegion: 422
        case .tooLarge: 413
        case .unsupportedMediaType: 415
        case .notFound: 404
        case .storage, .warehouse, .configuration: 503
        }
    }

    /// True for trouble on the server's side (storage, warehouse), which a client may retry.
    public var isServerFailure: Bool {
        switch self {
        case .storage, .warehouse, .configuration: true
        default: false
        }
    }

    /// As an HTTP error (JSON body `{"error": code, "message": …}`).
    public var httpError: HTTPError { HTTPError(status: status, code: code, message: description) }
}

extension PortalError {
    /// A gzip failure as the uploader sees it: a damaged file is 400 `bad_gzip`, one that
    /// decompresses past the caps 413.
    init(_ gzip: GzipError) {
        switch gzip {
        case .unavailable: self = .storage("zlib could not start decompressing")
        case .compressionFailed(let message): self = .storage(message)
        case .damaged(let message): self = .badRequest(code: "bad_gzip", message: message)
        case .tooLarge(let message): self = .tooLarge(message)
        }
    }
}
