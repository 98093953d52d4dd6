import Crypto
import Foundation
import _CryptoExtras

/// Checks the `Authorization: Bearer` token that Pub/Sub sends with every push to an
/// authenticated push subscription: an OIDC ID token, RS256-signed by one of Google's keys,
/// issued by `https://accounts.google.com`, for the subscription's audience, naming the push
/// service account with a verified e-mail address, not expired. Only such a token's
/// service account is trusted.
public final class PushTokenVerifier: Sendable {
    /// The issuers Google writes into ID tokens.
    public static let issuers: Set<String> = ["https://accounts.google.com", "accounts.google.com"]
    /// Google's OAuth 2.0 signing keys as a JWK set.
    public static let googleKeysURL = "https://www.googleapis.com/oauth2/v3/certs"

    private static let what = "the push token"
    private let audience: String
    private let serviceAccount: String
    private let clockSkewSeconds: Int64
    /// Each RSA public key as `RSAKeyMaterial`, by key id.
    private let keys: JWKKeyCache
    private let verified = VerifiedTokens()

    /// A verifier of tokens for `audience` (the subscription's `--push-auth-token-audience`)
    /// that names `serviceAccount` (its `--push-auth-service-account`).
    public init(audience: String, serviceAccount: String, source: JWKSource, clockSkewSeconds: Int64 = 30) throws(AccessError) {
        guard !audience.isEmpty else { throw .invalid("gcsEvents.audience is required when gcsEvents.enabled is true") }
        guard !serviceAccount.isEmpty else {
            throw .invalid("gcsEvents.serviceAccount is required when gcsEvents.enabled is true")
        }
        self.audience = audience
        self.serviceAccount = serviceAccount.lowercased()
        self.clockSkewSeconds = clockSkewSeconds
        keys = JWKKeyCache(source: source, what: "Google's signing keys", material: Self.rsaKey)
    }

    /// Loads the keys now, so a wrong file or URL stops the start instead of the first push.
    public func loadKeys(now: Int64) throws(AccessError) {
        try keys.load(now: now)
    }

    /// The service account of a push's `Authorization` header. Throws `.unauthenticated` for a
    /// missing or invalid token and `.forbidden` for a valid token of another account.
    public func verify(authorization: String?, now: Int64) throws(AccessError) -> String {
        guard let authorization, authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " else {
            throw .unauthenticated("a push must carry Google's ID token as \"Authorization: Bearer TOKEN\"")
        }
        let token = authorization.dropFirst(7).trimmingCharacters(in: .whitespaces)
        let email = try verify(token, now: now)
        guard email.lowercased() == serviceAccount else {
            throw .forbidden("the push token is for \(email), not for the push service account of gcsEvents.serviceAccount")
        }
        return email
    }

    /// The verified e-mail address of a token, whichever account it names.
    public func verify(_ token: String, now: Int64) throws(AccessError) -> String {
        let cacheKey = VerifiedTokens.key(token)
        if let email = verified.identity(cacheKey, now: now, skew: clockSkewSeconds) { return email }
        guard let jwt = CompactJWT(token) else { throw .unauthenticated("the push token is not a JWT") }
        guard jwt.algorithm == "RS256" else { throw .unauthenticated("the push token must be signed with RS256") }
        guard let kid = jwt.keyID else { throw .unauthenticated("the push token names no key") }
        let raw = try keys.key(kid, now: now, what: Self.what)
        guard let key = RSAKeyMaterial.publicKey(raw),
              key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: jwt.signature), for: jwt.signingInput,
                                   padding: .insecurePKCS1v1_5)
        else { throw .unauthenticated("the push token's signature does not verify") }
        guard let issuer = jwt.text("iss"), Self.issuers.contains(issuer) else {
            throw .unauthenticated("the push token has the wrong issuer")
        }
        guard jwt.audiences.contains(audience) else { throw .unauthenticated("the push token is for another audience") }
        let expires = try jwt.checkLifetime(now: now, skew: clockSkewSeconds, what: Self.what)
        guard let email = jwt.text("email"), !email.isEmpty else {
            throw .unauthenticated("the push token carries no e-mail address")
        }
        let emailVerified = jwt.claims["email_verified"]
        guard (emailVerified as? Bool) == true || (emailVerified as? String) == "true" else {
            throw .unauthenticated("the push token's e-mail address is not verified")
        }
        verified.remember(cacheKey, identity: email, expires: expires, now: now)
        return email
    }

    /// The key of an RSA JWK entry meant for RS256 signatures (`use` and `alg` absent or saying so).
    private static func rsaKey(_ entry: [String: Any]) -> [UInt8]? {
        guard entry["kty"] as? String == "RSA", (entry["use"] as? String).map({ $0 == "sig" }) ?? true,
              (entry["alg"] as? String).map({ $0 == "RS256" }) ?? true,
              let n = (entry["n"] as? String).flatMap(Base64URL.decode),
              let e = (entry["e"] as? String).flatMap(Base64URL.decode)
        else { return nil }
        let raw = RSAKeyMaterial.encode(modulus: n, exponent: e)
        return RSAKeyMaterial.publicKey(raw) == nil ? nil : raw
    }
}

/// An RSA public key kept as bytes: the modulus' length (4 bytes, big-endian), the modulus,
/// then the public exponent.
enum RSAKeyMaterial {
    static func encode(modulus: [UInt8], exponent: [UInt8]) -> [UInt8] {
        let count = UInt32(modulus.count)
        return [UInt8(count >> 24), UInt8(count >> 16 & 255), UInt8(count >> 8 & 255), UInt8(count & 255)] + modulus + exponent
    }

    /// The key (2048 bits or more), nil when the bytes do not make one.
    static func publicKey(_ raw: [UInt8]) -> _RSA.Signing.PublicKey? {
        guard raw.count > 4 else { return nil }
        let count = Int(raw[0]) << 24 | Int(raw[1]) << 16 | Int(raw[2]) << 8 | Int(raw[3])
        guard count > 0, raw.count > 4 + count else { return nil }
        return try? _RSA.Signing.PublicKey(n: raw[4..<(4 + count)], e: raw[(4 + count)...])
    }
}
