import Crypto
import Foundation
import Synchronization

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
    public enum KeySource: Sendable {
        case file(String)
        case url(String, fetch: @Sendable (String) throws -> [UInt8])
    }

    private let audience: String
    private let source: KeySource
    private let clockSkewSeconds: Int64
    private let state = Mutex<State>(State())

    private struct State {
        /// Raw public keys (x ‖ y) by key id: the key type itself is not `Sendable`.
        var keys: [String: [UInt8]] = [:]
        var loadedAt: Int64 = .min
        var verified: [String: (email: String, expires: Int64)] = [:]
    }

    /// A verifier for `audience` (`/projects/NUMBER/global/backendServices/ID` or `/projects/NUMBER/apps/PROJECT`).
    public init(audience: String, source: KeySource, clockSkewSeconds: Int64 = 30) throws(AccessError) {
        guard !audience.isEmpty else { throw .invalid("auth.iapAudience is required in iap mode") }
        self.audience = audience
        self.source = source
        self.clockSkewSeconds = clockSkewSeconds
    }

    /// Loads the keys now, so a wrong file or URL stops the start instead of the first request.
    public func loadKeys(now: Int64) throws(AccessError) {
        let keys = try Self.readKeys(source)
        state.withLock { $0.keys = keys; $0.loadedAt = now }
    }

    /// The verified e-mail address of an assertion.
    public func verify(_ assertion: String, now: Int64) throws(AccessError) -> String {
        let cacheKey = Hex.encode(SHA256.hash(data: Array(assertion.utf8)))
        if let cached = state.withLock({ $0.verified[cacheKey] }), now < cached.expires + clockSkewSeconds {
            return cached.email
        }
        let parts = assertion.split(separator: ".", omittingEmptySubsequences: false)
        guard assertion.utf8.count <= 8192, parts.count == 3,
              let headerBytes = Base64URL.decode(parts[0]), let claimBytes = Base64URL.decode(parts[1]),
              let signatureBytes = Base64URL.decode(parts[2]),
              let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any],
              let claims = try? JSONSerialization.jsonObject(with: Data(claimBytes)) as? [String: Any]
        else { throw .unauthenticated("the IAP assertion is not a JWT") }
        guard header["alg"] as? String == "ES256" else { throw .unauthenticated("the IAP assertion must be signed with ES256") }
        guard let kid = header["kid"] as? String else { throw .unauthenticated("the IAP assertion names no key") }
        let key = try publicKey(kid, now: now)
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signatureBytes),
              key.isValidSignature(signature, for: Array("\(parts[0]).\(parts[1])".utf8))
        else { throw .unauthenticated("the IAP assertion's signature does not verify") }
        guard claims["iss"] as? String == Self.issuer else { throw .unauthenticated("the IAP assertion has the wrong issuer") }
        let audiences = (claims["aud"] as? [String]) ?? [(claims["aud"] as? String) ?? ""]
        guard audiences.contains(audience) else { throw .unauthenticated("the IAP assertion is for another audience") }
        guard let expires = Self.seconds(claims["exp"]), now < expires + clockSkewSeconds else {
            throw .unauthenticated("the IAP assertion has expired")
        }
        guard let issued = Self.seconds(claims["iat"]), issued <= now + clockSkewSeconds else {
            throw .unauthenticated("the IAP assertion is issued in the future")
        }
        guard let email = claims["email"] as? String, !email.isEmpty else {
            throw .unauthenticated("the IAP assertion carries no e-mail address")
        }
        // IAP writes `accounts.google.com:` before the address.
        let address = email.hasPrefix("accounts.google.com:") ? String(email.dropFirst(20)) : email
        state.withLock { state in
            if state.verified.count >= 4096 { state.verified = state.verified.filter { $0.value.expires > now } }
            if state.verified.count < 4096 { state.verified[cacheKey] = (address, expires) }
        }
        return address
    }

    private func publicKey(_ kid: String, now: Int64) throws(AccessError) -> P256.Signing.PublicKey {
        let (knownBytes, loadedAt) = state.withLock { ($0.keys[kid], $0.loadedAt) }
        let known = knownBytes.flatMap { try? P256.Signing.PublicKey(rawRepresentation: $0) }
        if let known, now - loadedAt < 3600 { return known }
        // An unknown key (Google rotates them) or an hour since the last read: read again, at most once a minute.
        if now - loadedAt >= 60 {
            if let keys = try? Self.readKeys(source) {
                state.withLock { $0.keys = keys; $0.loadedAt = now }
                if let key = keys[kid].flatMap({ try? P256.Signing.PublicKey(rawRepresentation: $0) }) { return key }
                throw .unauthenticated("the IAP assertion is signed by an unknown key")
            }
        }
        if let known { return known }
        throw .unauthenticated("the IAP assertion is signed by an unknown key")
    }

    /// The P-256 keys of a JWK set, by key id.
    static func readKeys(_ source: KeySource) throws(AccessError) -> [String: [UInt8]] {
        let bytes: [UInt8]
        switch source {
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else { throw .keys("cannot read the IAP keys file \(path)") }
            bytes = [UInt8](data)
        case .url(let url, let fetch):
            do { bytes = try fetch(url) } catch { throw .keys("cannot fetch the IAP keys from \(url): \(error)") }
        }
        guard let set = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let entries = set["keys"] as? [[String: Any]]
        else { throw .keys("the IAP keys are not a JWK set ({\"keys\": [...]})") }
        var keys: [String: [UInt8]] = [:]
        for entry in entries {
            guard entry["kty"] as? String == "EC", entry["crv"] as? String == "P-256", let kid = entry["kid"] as? String,
                  let x = (entry["x"] as? String).flatMap(Base64URL.decode), let y = (entry["y"] as? String).flatMap(Base64URL.decode),
                  x.count == 32, y.count == 32, (try? P256.Signing.PublicKey(rawRepresentation: x + y)) != nil
            else { continue }
            keys[kid] = x + y
        }
        guard !keys.isEmpty else { throw .keys("the IAP key set holds no P-256 key") }
        return keys
    }

    private static func seconds(_ value: Any?) -> Int64? {
        if let number = value as? NSNumber { return number.int64Value }
        return nil
    }
}
