/// Supplies the `Authorization` header of requests to Google APIs.
public protocol TokenProvider: Sendable {
    /// The header value (`Bearer …`), or nil to send no credentials (emulators).
    /// May block to fetch or refresh a token.
    func authorizationHeader() throws -> String?
    /// Drops a cached token the service refused (HTTP 401), so the next call fetches a new one.
    func invalidate()
}

/// No credentials: for the local emulators.
public struct AnonymousCredentials: TokenProvider {
    public init() {}
    public func authorizationHeader() throws -> String? { nil }
    public func invalidate() {}
}
