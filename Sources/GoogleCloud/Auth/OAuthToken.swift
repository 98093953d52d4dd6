import Foundation
import Support
import Synchronization

/// An OAuth 2.0 access token and when it stops working.
public struct AccessToken: Sendable, Equatable {
    public var value: String
    /// Seconds since 1970 (wall clock).
    public var expiresAt: Double
    public init(value: String, expiresAt: Double) {
        self.value = value
        self.expiresAt = expiresAt
    }
}

/// Keeps one token and fetches a new one when it is missing, refused, or within
/// `refreshMargin` seconds of expiring. Callers that arrive during a fetch wait for it.
public final class CachedTokenProvider: TokenProvider {
    private let fetch: @Sendable () throws -> AccessToken
    private let now: @Sendable () -> Double
    /// Seconds before expiry when a token is replaced.
    public let refreshMargin: Double
    private let cached = Mutex<AccessToken?>(nil)
    /// Serializes fetches, so a burst of callers causes one token request.
    private let fetching = Mutex<Void>(())

    public init(refreshMargin: Double = 300, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
                fetch: @escaping @Sendable () throws -> AccessToken) {
        self.fetch = fetch
        self.now = now
        self.refreshMargin = refreshMargin
    }

    public func authorizationHeader() throws -> String? {
        "Bearer \(try token().value)"
    }

    /// The current token, fetched when needed.
    public func token() throws -> AccessToken {
        if let token = fresh() { return token }
        return try fetching.withLock { _ in
            if let token = fresh() { return token }
            let token = try fetch()
            cached.withLock { $0 = token }
            return token
        }
    }

    public func invalidate() {
        cached.withLock { $0 = nil }
    }

    private func fresh() -> AccessToken? {
        cached.withLock { token in
            guard let token, token.expiresAt - refreshMargin > now() else { return nil }
            return token
        }
    }
}

/// The token endpoint's answer: `{"access_token", "expires_in", "token_type"}`.
enum TokenResponse {
    static func parse(_ body: [UInt8], now: Double, source: String) throws -> AccessToken {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let value = object["access_token"] as? String, !value.isEmpty
        else {
            throw GoogleCloudError.credentials("\(source): the token answer has no access_token")
        }
        let expiresIn = (object["expires_in"] as? Double) ?? (object["expires_in"] as? Int).map(Double.init) ?? 3600
        return AccessToken(value: value, expiresAt: now + expiresIn)
    }

    /// POSTs a form to a token endpoint and reads the token. Failures never include the form (it holds secrets).
    static func exchange(form: [(String, String)], tokenURI: String, transport: RESTTransport,
                         now: Double, source: String) throws -> AccessToken {
        let body = form.map { "\($0.0)=\(PercentEncoding.encode($0.1))" }.joined(separator: "&")
        var request = HTTPRequest(method: "POST", url: tokenURI, body: .bytes(Array(body.utf8)))
        request.addHeader("Content-Type", "application/x-www-form-urlencoded")
        do {
            let response = try transport.send(request, idempotent: true)
            return try parse(response.body, now: now, source: source)
        } catch let error as GoogleCloudError {
            if case .credentials = error { throw error }
            throw GoogleCloudError.credentials("\(source): token request failed: \(error.message)")
        }
    }
}
