/// Supplies the `Authorization` header of requests to Google APIs.
public protocol TokenProvider: Sendable {
    /// The header value (`Bearer …`), or nil to send no credentials (emulators).
    /// May block to fetch or refresh a token.
    func authorizationHeader() throws -> String?
    /// Drops a cached token the service refused (HTTP 401), so the next call fetches a new one.
    func invalidate()
    /// The project that quota and billing are charged to (`quota_project_id` of a credentials
    /// file), sent as `x-goog-user-project`; nil for none.
    var quotaProject: String? { get }
}

extension TokenProvider {
    public var quotaProject: String? { nil }
}

/// Credentials whose file names a quota project.
struct QuotaProjectCredentials: TokenProvider {
    let inner: any TokenProvider
    let quotaProject: String?
    func authorizationHeader() throws -> String? { try inner.authorizationHeader() }
    func invalidate() { inner.invalidate() }
}

/// No credentials: for the local emulators.
public struct AnonymousCredentials: TokenProvider {
    public init() {}
    public func authorizationHeader() throws -> String? { nil }
    public func invalidate() {}
}
