import Crypto
import Foundation
import Synchronization

/// A compact JWS (`header.claims.signature`, base64url) split into its parts. Nothing in it is
/// to be trusted before its signature has been checked against `signingInput`.
struct CompactJWT {
    /// The longest token accepted: Google's tokens are about 1 KB.
    static let maxBytes = 8192

    let header: [String: Any]
    let claims: [String: Any]
    /// `header.claims` as sent: the bytes the signature covers.
    let signingInput: [UInt8]
    let signature: [UInt8]

    /// Splits and decodes `token`; nil when it is not a JWT.
    init?(_ token: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count <= Self.maxBytes, parts.count == 3,
              let headerBytes = Base64URL.decode(parts[0]), let claimBytes = Base64URL.decode(parts[1]),
              let signature = Base64URL.decode(parts[2]),
              let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any],
              let claims = try? JSONSerialization.jsonObject(with: Data(claimBytes)) as? [String: Any]
        else { return nil }
        self.header = header
        self.claims = claims
        self.signingInput = Array("\(parts[0]).\(parts[1])".utf8)
        self.signature = signature
    }

    /// The header's `alg`.
    var algorithm: String? { header["alg"] as? String }
    /// The header's `kid`: which key of the set signed it.
    var keyID: String? { header["kid"] as? String }

    /// A claim as text.
    func text(_ claim: String) -> String? { claims[claim] as? String }

    /// A claim in seconds since 1970 (`exp`, `iat`).
    func seconds(_ claim: String) -> Int64? { (claims[claim] as? NSNumber)?.int64Value }

    /// `aud`, which may be one value or a list.
    var audiences: [String] { (claims["aud"] as? [String]) ?? [(claims["aud"] as? String) ?? ""] }

    /// Refuses a token past its `exp`, or issued (`iat`) in the future, beyond `skew` seconds.
    /// `what` names the token in the messages ("the IAP assertion").
    func checkLifetime(now: Int64, skew: Int64, what: String) throws(AccessError) -> Int64 {
        guard let expires = seconds("exp"), now < expires + skew else { throw .unauthenticated("\(what) has expired") }
        guard let issued = seconds("iat"), issued <= now + skew else { throw .unauthenticated("\(what) is issued in the future") }
        return expires
    }
}

/// Where a JWK set (`{"keys": […]}`) comes from: a file, or a URL read through `fetch`.
public enum JWKSource: Sendable {
    case file(String)
    case url(String, fetch: @Sendable (String) throws -> [UInt8])
}

/// The keys of one kind from a JWK set, by key id, as the raw material a verifier turns into
/// keys. Read at start; read again after an hour, or for an unknown key id (Google rotates its
/// keys), at most once a minute.
final class JWKKeyCache: Sendable {
    private let source: JWKSource
    /// Names the keys in messages ("the IAP keys").
    private let what: String
    /// The raw key of a JWK entry, nil for an entry of another kind or a broken one.
    private let material: @Sendable ([String: Any]) -> [UInt8]?
    private struct State {
        var keys: [String: [UInt8]] = [:]
        var loadedAt: Int64 = .min
        /// The last refresh tried, whether or not it worked.
        var triedAt: Int64 = .min
    }

    private let state = Mutex(State())

    init(source: JWKSource, what: String, material: @escaping @Sendable ([String: Any]) -> [UInt8]?) {
        self.source = source
        self.what = what
        self.material = material
    }

    /// Reads the keys now, so that a wrong file or URL stops the start instead of the first request.
    func load(now: Int64) throws(AccessError) {
        let keys = try read()
        state.withLock { $0 = State(keys: keys, loadedAt: now, triedAt: now) }
    }

    /// The raw key `kid`; `what` names the token in the message when there is none.
    func key(_ kid: String, now: Int64, what token: String) throws(AccessError) -> [UInt8] {
        let (known, loadedAt) = state.withLock { ($0.keys[kid], $0.loadedAt) }
        if let known, now - loadedAt < 3600 { return known }
        // At most one refresh a minute, taken by one caller, and counted when it fails too: while
        // the keys' URL is slow or down, tokens with made-up key ids cannot make every request wait.
        let mayRefresh = state.withLock { state -> Bool in
            guard now - state.triedAt >= 60 else { return false }
            state.triedAt = now
            return true
        }
        if mayRefresh, let keys = try? read() {
            state.withLock { $0.keys = keys; $0.loadedAt = now }
            if let key = keys[kid] { return key }
            throw .unauthenticated("\(token) is signed by an unknown key")
        }
        if let known { return known }
        throw .unauthenticated("\(token) is signed by an unknown key")
    }

    private func read() throws(AccessError) -> [String: [UInt8]] {
        let bytes: [UInt8]
        switch source {
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else { throw .keys("cannot read \(what) file \(path)") }
            bytes = [UInt8](data)
        case .url(let url, let fetch):
            do { bytes = try fetch(url) } catch { throw .keys("cannot fetch \(what) from \(url): \(error)") }
        }
        guard let set = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let entries = set["keys"] as? [[String: Any]]
        else { throw .keys("\(what) are not a JWK set ({\"keys\": [...]})") }
        var keys: [String: [UInt8]] = [:]
        for entry in entries {
            guard let kid = entry["kid"] as? String, let raw = material(entry) else { continue }
            keys[kid] = raw
        }
        guard !keys.isEmpty else { throw .keys("\(what) hold no usable key") }
        return keys
    }
}

/// Tokens already verified, by their SHA-256, with what they proved, until they expire: a
/// signature is checked once per token, not once per request.
final class VerifiedTokens: Sendable {
    private static let capacity = 4096
    private let entries = Mutex<[String: (identity: String, expires: Int64)]>([:])

    /// The cache key of a token.
    static func key(_ token: String) -> String { Hex.encode(SHA256.hash(data: Array(token.utf8))) }

    /// What the token proved, while it is still valid (`skew` seconds after `exp`).
    func identity(_ key: String, now: Int64, skew: Int64) -> String? {
        guard let entry = entries.withLock({ $0[key] }), now < entry.expires + skew else { return nil }
        return entry.identity
    }

    /// Remembers a verified token.
    func remember(_ key: String, identity: String, expires: Int64, now: Int64) {
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries = entries.filter { $0.value.expires > now } }
            if entries.count < Self.capacity { entries[key] = (identity, expires) }
        }
    }
}
