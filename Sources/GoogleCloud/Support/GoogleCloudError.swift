import Foundation

/// Every failure of the GoogleCloud module: a stable machine `code` and a human `message`.
/// Messages never contain tokens, keys or other credentials.
public enum GoogleCloudError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No HTTP response: connection refused or reset, timeout, stall. `curlCode` is libcurl's CURLcode.
    case transport(curlCode: Int, message: String)
    /// The service answered with an error status. `reason` is the first `errors[].reason`,
    /// `status` Google's canonical status name (`NOT_FOUND`, `UNAVAILABLE` …) when given.
    case http(statusCode: Int, reason: String?, status: String?, message: String)
    /// A BigQuery job or query that reported errors (also in a 200 answer).
    case query(reason: String?, message: String)
    /// An answer that does not have the shape the API documents.
    case invalidResponse(String)
    /// The stored object's checksum is not the one computed while sending it.
    case checksumMismatch(String)
    /// A setting or argument that cannot work (bad endpoint, bad chunk size …).
    case configuration(String)
    /// Credentials could not be found, read or exchanged for a token.
    case credentials(String)
    /// The retry deadline or attempt budget ran out; carries the last failure.
    indirect case retriesExhausted(attempts: Int, last: GoogleCloudError)

    /// A stable code for logs and API answers.
    public var code: String {
        switch self {
        case .transport: "gcloud_transport"
        case .http(let statusCode, let reason, _, _):
            if let reason, !reason.isEmpty { "gcloud_http_\(statusCode)_\(reason)" } else { "gcloud_http_\(statusCode)" }
        case .query: "gcloud_query"
        case .invalidResponse: "gcloud_invalid_response"
        case .checksumMismatch: "gcloud_checksum_mismatch"
        case .configuration: "gcloud_configuration"
        case .credentials: "gcloud_credentials"
        case .retriesExhausted(_, let last): last.code
        }
    }

    /// A human sentence.
    public var message: String {
        switch self {
        case .transport(let curlCode, let message): "network failure (curl \(curlCode)): \(message)"
        case .http(let statusCode, _, let status, let message):
            "HTTP \(statusCode)\(status.map { " \($0)" } ?? ""): \(message)"
        case .query(_, let message): "query failed: \(message)"
        case .invalidResponse(let message), .checksumMismatch(let message), .configuration(let message),
            .credentials(let message):
            message
        case .retriesExhausted(let attempts, let last): "gave up after \(attempts) attempts: \(last.message)"
        }
    }

    public var description: String { "\(code): \(message)" }

    /// The HTTP status, when the failure is an HTTP answer.
    public var httpStatus: Int? {
        switch self {
        case .http(let statusCode, _, _, _): statusCode
        case .retriesExhausted(_, let last): last.httpStatus
        default: nil
        }
    }

    /// True for failures that may go away when the same request is sent again, as Google's own
    /// clients decide (python-bigquery's `retry.py`, api-core, python-storage): network failures
    /// (reset, refused, timeout, stall); 408, 429, 500, 502, 503, 504 — not 501 or other 5xx; and
    /// any status whose error reason says so (BigQuery answers short-term rate limits as
    /// 403 `rateLimitExceeded`).
    public var isTransient: Bool {
        switch self {
        case .transport: true
        case .http(let statusCode, let reason, _, _):
            if let reason, Self.transientReasons.contains(reason) { true } else { Self.transientStatuses.contains(statusCode) }
        case .retriesExhausted: false
        default: false
        }
    }

    /// Statuses worth another try.
    public static let transientStatuses: Set<Int> = [408, 429, 500, 502, 503, 504]
    /// Error reasons worth another try, whatever the status.
    public static let transientReasons: Set<String> = [
        "rateLimitExceeded", "backendError", "internalError", "badGateway", "jobBackendError", "jobInternalError",
    ]
}

/// The one mapping from an HTTP answer to `GoogleCloudError`.
public enum StatusMapping {
    /// Nil when `response.status` is in `accepted`; otherwise the error the answer describes,
    /// read from Google's error JSON `{"error":{"code","message","errors":[{"reason"}],"status"}}` when present.
    public static func error(for response: HTTPResponse, accepted: ClosedRange<Int> = 200...299) -> GoogleCloudError? {
        if accepted.contains(response.status) { return nil }
        return error(status: response.status, body: response.body)
    }

    /// The error of a non-success status and its body.
    public static func error(status: Int, body: [UInt8]) -> GoogleCloudError {
        if let parsed = parseErrorBody(body) {
            return .http(statusCode: status, reason: parsed.reason, status: parsed.status,
                         message: parsed.message ?? defaultMessage(status))
        }
        let text = String(decoding: body.prefix(300), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return .http(statusCode: status, reason: nil, status: nil, message: text.isEmpty ? defaultMessage(status) : text)
    }

    struct ParsedError {
        var message: String?
        var reason: String?
        var status: String?
    }

    /// Reads Google's error envelope; nil when the body is not one.
    static func parseErrorBody(_ body: [UInt8]) -> ParsedError? {
        guard !body.isEmpty,
            let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        else { return nil }
        // Google's envelope; OAuth token endpoints answer {"error": "invalid_grant", "error_description": …}.
        if let envelope = object["error"] as? [String: Any] {
            let errors = envelope["errors"] as? [[String: Any]]
            return ParsedError(
                message: envelope["message"] as? String,
                reason: errors?.first?["reason"] as? String,
                status: envelope["status"] as? String)
        }
        if let code = object["error"] as? String {
            return ParsedError(message: object["error_description"] as? String ?? code, reason: code, status: nil)
        }
        return nil
    }

    static func defaultMessage(_ status: Int) -> String {
        switch status {
        case 400: "bad request"
        case 401: "unauthenticated"
        case 403: "permission denied"
        case 404: "not found"
        case 408: "request timeout"
        case 409: "conflict"
        case 412: "precondition failed"
        case 429: "too many requests"
        case 500...599: "server error"
        default: "unexpected status"
        }
    }
}
