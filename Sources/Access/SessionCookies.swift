import Crypto
import Synchronization

/// A browser session, as carried in the signed cookie.
public struct Session: Sendable, Equatable {
    public var user: String
    /// Random, 128 bits: names the session for sign-out and for its CSRF token.
    public var id: String
    /// Seconds since 1970 (UTC).
    public var issuedAt: Int64
    public var expiresAt: Int64
    /// Changes when the user's password changes, which ends the user's sessions.
    public var credentialTag: String
}

/// Signs and checks session cookies with HMAC-SHA256. The key comes from the configuration or
/// from a file in the data folder, so every replica that shares it accepts every session; the
/// expiry is inside the signed value, so the server enforces it whatever the browser keeps.
/// Signing out revokes the session on this replica at once, and everywhere at its expiry.
public final class SessionSigner: Sendable {
    /// The HMAC key's bytes (`SymmetricKey` is not `Sendable`; one is made per signature).
    private let key: [UInt8]
    /// How long a session lasts.
    public let lifetimeSeconds: Int64
    private let revoked = Mutex<[String: Int64]>([:])

    /// A signer with a key of at least 32 bytes.
    public init(key: [UInt8], lifetimeSeconds: Int64) throws(AccessError) {
        guard key.count >= 32 else { throw .invalid("the session key must be at least 32 bytes (64 hex digits)") }
        self.key = key
        self.lifetimeSeconds = lifetimeSeconds
    }

    /// A new session for `user` and its cookie value.
    public func issue(user: String, credentialTag: String, now: Int64) -> (session: Session, cookie: String) {
        let session = Session(user: user, id: Base64URL.encode(Secrets.randomBytes(16)), issuedAt: now,
                              expiresAt: now + lifetimeSeconds, credentialTag: credentialTag)
        let payload = ["s1", session.user, session.id, String(session.issuedAt), String(session.expiresAt), session.credentialTag]
            .joined(separator: " ")
        let encoded = Base64URL.encode(Array(payload.utf8))
        return (session, encoded + "." + signature(of: encoded))
    }

    /// The session of a cookie value, or nil when it is forged, expired or signed out.
    public func verify(_ cookie: String, now: Int64) -> Session? {
        guard cookie.utf8.count <= 1024, let dot = cookie.lastIndex(of: ".") else { return nil }
        let encoded = String(cookie[..<dot])
        let presented = Array(cookie[cookie.index(after: dot)...].utf8)
        guard ConstantTime.equal(presented, Array(signature(of: encoded).utf8)),
              let payloadBytes = Base64URL.decode(encoded), let payload = String(validating: payloadBytes, as: UTF8.self)
        else { return nil }
        let fields = payload.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 6, fields[0] == "s1", let issued = Int64(fields[3]), let expires = Int64(fields[4]) else { return nil }
        guard now < expires, issued <= now + 300 else { return nil }
        let session = Session(user: fields[1], id: fields[2], issuedAt: issued, expiresAt: expires, credentialTag: fields[5])
        let isRevoked = revoked.withLock { $0[session.id] != nil }
        return isRevoked ? nil : session
    }

    /// Ends a session on this replica (signing out); forgotten once it would have expired anyway.
    public func revoke(_ session: Session, now: Int64) {
        revoked.withLock { list in
            list[session.id] = session.expiresAt
            if list.count > 1024 { list = list.filter { $0.value > now } }
        }
    }

    /// The CSRF token of a session (or of the anonymous form when access control is off):
    /// a MAC of its id, so it cannot be made without the key and changes with each session.
    public func csrfToken(sessionID: String) -> String {
        signature(of: "csrf " + sessionID)
    }

    /// Whether `token` is the CSRF token of the session; constant time.
    public func checkCSRFToken(_ token: String, sessionID: String) -> Bool {
        ConstantTime.equal(Array(token.utf8), Array(csrfToken(sessionID: sessionID).utf8))
    }

    /// A short tag of a password hash (or of its absence) that goes into the session.
    public static func credentialTag(passwordHash: String?) -> String {
        Hex.encode(SHA256.hash(data: Array((passwordHash ?? "-").utf8)).prefix(8))
    }

    private func signature(of text: String) -> String {
        Base64URL.encode(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: key)))
    }
}
