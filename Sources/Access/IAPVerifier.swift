import Crypto
import Foundation

/// Checks the `x-goog-iap-jwt-assertion` header that Google's Identity-Aware Proxy adds to
/// every request it lets through: an ES256 JWT signed by one of Google's published keys,
/// issued by `https://cloud.google.com/iap`, for this backend's audience, not expired.
/// Only a verified assertion's e-mail address is trusted.
public final class IAPVerifier: Sendable {
    /// The issuer IAP writes into every assertion.
    public static let issuer = "https://cloud.google.com/iap"
    /// Google's keys as a JWK set.
    public static let googleKeysURL = "https://www.gstatic.com/iap/verify/public_key-jwk"

    /// Where the keys come from: a JWK set file, or a URL read through `fetch`.
    public typealias KeySource = JWKSource

    private static let what = "the IAP assertion"
    private let audience: String
    private let clockSkewSeconds: Int64
    /// Raw public keys (x ‖ y) by key id.
    private let keys: JWKKeyCache
    private let verified = VerifiedTokens()

    /// A verifier for `audience` (`/projects/NUMBER/global/backendServices/ID` or `/projects/NUMBER/apps/PROJECT`).
    public init(audience: String, source: KeySource, clockSkewSeconds: Int64 = 30) throws(AccessError) {
        guard !audience.isEmpty else { throw .invalid("auth.iapAudience is required in iap mode") }
        self.audience = audience
        self.clockSkewSeconds = clockSkewSeconds
        keys = JWKKeyCache(source: source, what: "the IAP keys", material: Self.p256Key)
    }

    /// Loads the keys now, so a wrong file or URL stops the start instead of the first request.
    public func loadKeys(now: Int64) throws(AccessError) {
        try keys.load(now: now)
    }

    /// The verified e-mail address of an assertion.
    public func verify(_ assertion: String, now: Int64) throws(AccessError) -> String {
        let cacheKey = VerifiedTokens.key(assertion)
        if let email = verified.identity(cacheKey, now: now, skew: clockSkewSeconds) { return email }
        guard let jwt = CompactJWT(assertion) else { throw .unauthenticated("the IAP assertion is not a JWT") }
        guard jwt.algorithm == "ES256" else { throw .unauthenticated("the IAP assertion must be signed with ES256") }
        guard let kid = jwt.keyID else { throw .unauthenticated("the IAP assertion names no key") }
        let raw = try keys.key(kid, now: now, what: Self.what)
        guard let key = try? P256.Signing.PublicKey(rawRepresentation: raw),
              let signature = try? P256.Signing.ECDSASignature(rawRepresentation: jwt.signature),
              key.isValidSignature(signature, for: jwt.signingInput)
        else { throw .unauthenticated("the IAP assertion's signature does not verify") }
        guard jwt.text("iss") == Self.issuer else { throw .unauthenticated("the IAP assertion has the wrong issuer") }
        guard jwt.audiences.contains(audience) else { throw .unauthenticated("the IAP assertion is for another audience") }
        let expires = try jwt.checkLifetime(now: now, skew: clockSkewSeconds, what: Self.what)
        guard let email = jwt.text("email"), !email.isEmpty else {
            throw .unauthenticated("the IAP assertion carries no e-mail address")
        }
        // IAP writes `accounts.google.com:` before the address.
        let address = email.hasPrefix("accounts.google.com:") ? String(email.dropFirst(20)) : email
        verified.remember(cacheKey, identity: address, expires: expires, now: now)
        return address
    }

    /// The raw key (x ‖ y) of a P-256 JWK entry.
    private static func p256Key(_ entry: [String: Any]) -> [UInt8]? {
        guard entry["kty"] as? String == "EC", entry["crv"] as? String == "P-256",
              let x = (entry["x"] as? String).flatMap(Base64URL.decode), let y = (entry["y"] as? String).flatMap(Base64URL.decode),
              x.count == 32, y.count == 32, (try? P256.Signing.PublicKey(rawRepresentation: x + y)) != nil
        else { return nil }
        return x + y
    }
}
