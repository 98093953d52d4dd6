/// What every Google REST call goes through: credentials, the service's constant
/// headers, the status mapping and the retry loop. Client types (Storage, BigQuery)
/// build requests; this sends them.
public final class RESTTransport: Sendable {
    public let http: any HTTPClient
    public let credentials: any TokenProvider
    /// Sent on every request of this service, e.g. `x-goog-user-project`.
    public let extraHeaders: [(name: String, value: String)]
    public let retryPolicy: RetryPolicy

    public init(http: any HTTPClient, credentials: any TokenProvider,
                extraHeaders: [(name: String, value: String)] = [], retryPolicy: RetryPolicy = RetryPolicy()) {
        self.http = http
        self.credentials = credentials
        self.extraHeaders = extraHeaders
        self.retryPolicy = retryPolicy
    }

    /// Sends `request`, retrying transient failures when `idempotent`, and returns the
    /// first answer whose status is in `accepted`. Other statuses become `GoogleCloudError`.
    /// A 401 (an expired or revoked token) drops the token and is sent once more at once, even
    /// when not idempotent: the service did not act on a request it refused to authenticate.
    public func send(_ request: HTTPRequest, idempotent: Bool,
                     accepted: ClosedRange<Int> = 200...299) throws -> HTTPResponse {
        var refreshed = false
        return try RetryLoop.run(policy: retryPolicy, idempotent: idempotent) { _ in
            do {
                return try sendOnce(request, accepted: accepted)
            } catch let error as GoogleCloudError where error.httpStatus == 401 && !refreshed {
                refreshed = true
                return try sendOnce(request, accepted: accepted)
            }
        }
    }

    /// One attempt: adds the headers, performs, maps the status. A 401 drops the cached token.
    public func sendOnce(_ request: HTTPRequest, accepted: ClosedRange<Int> = 200...299) throws -> HTTPResponse {
        var request = request
        for header in extraHeaders { request.addHeader(header.name, header.value) }
        if let quotaProject = credentials.quotaProject,
           !extraHeaders.contains(where: { $0.name.lowercased() == "x-goog-user-project" }) {
            request.addHeader("x-goog-user-project", quotaProject)
        }
        if let authorization = try credentials.authorizationHeader() {
            request.addHeader("Authorization", authorization)
        }
        let response = try http.perform(request)
        if let error = StatusMapping.error(for: response, accepted: accepted) {
            if response.status == 401 { credentials.invalidate() }
            throw error
        }
        return response
    }
}

/// The endpoint of a service: Google's, or an emulator's from the environment.
public enum ServiceEndpoint {
    /// `value` without a trailing slash, `http://` added when no scheme is given
    /// (emulator variables are often written as `host:port`).
    public static func normalize(_ value: String) -> String {
        var text = value
        while text.hasSuffix("/") { text.removeLast() }
        if !text.hasPrefix("http://") && !text.hasPrefix("https://") { text = "http://" + text }
        return text
    }

    /// The environment variable's value when set and not empty.
    public static func fromEnvironment(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let value = String(cString: raw)
        return value.isEmpty ? nil : normalize(value)
    }

    /// Where a client talks and with which credentials: the `endpoint` given, else the emulator
    /// named by `emulatorVariable`, else Google's `defaultEndpoint`. Without `credentials`, an
    /// emulator from the environment is called anonymously and anything else with Application
    /// Default Credentials.
    static func connect(
        endpoint: String?, emulatorVariable: String, defaultEndpoint: String, credentials: (any TokenProvider)?,
        httpClient: any HTTPClient, extraHeaders: [(name: String, value: String)], retryPolicy: RetryPolicy
    ) throws -> (endpoint: String, transport: RESTTransport) {
        let emulator = fromEnvironment(emulatorVariable)
        let resolved = endpoint.map(normalize) ?? emulator ?? defaultEndpoint
        let tokens = try credentials ?? (emulator != nil && endpoint == nil
            ? AnonymousCredentials() : ApplicationDefaultCredentials.find(http: httpClient))
        let transport = RESTTransport(http: httpClient, credentials: tokens, extraHeaders: extraHeaders,
                                      retryPolicy: retryPolicy)
        return (resolved, transport)
    }
}

#if canImport(Glibc)
import Glibc
#endif
