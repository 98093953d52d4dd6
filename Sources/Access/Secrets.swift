import Crypto
import _CryptoExtras

/// Salted slow password hashes and API tokens: what the users file keeps instead of secrets.
public enum Secrets {
    /// OWASP's Password Storage Cheat Sheet figure for PBKDF2-HMAC-SHA256.
    public static let passwordIterations = 600_000

    /// `pbkdf2-sha256$ITERATIONS$SALT$HASH` (base64url), with a new random 16-byte salt.
    public static func hashPassword(_ password: String, iterations: Int = passwordIterations) throws(AccessError) -> String {
        let salt = randomBytes(16)
        let derived = try derive(password, salt: salt, iterations: iterations)
        return "pbkdf2-sha256$\(iterations)$\(Base64URL.encode(salt))$\(Base64URL.encode(derived))"
    }

    /// Whether `password` matches a stored hash; compares in constant time. A malformed hash never matches.
    public static func verifyPassword(_ password: String, hash stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let iterations = Int(parts[1]),
              (1_000...10_000_000).contains(iterations),
              let salt = Base64URL.decode(parts[2]), let expected = Base64URL.decode(parts[3]), expected.count == 32,
              let derived = try? derive(password, salt: salt, iterations: iterations)
        else { return false }
        return ConstantTime.equal(derived, expected)
    }

    /// Spends the time a password check takes, for sign-ins of unknown users (no timing oracle).
    public static func burnPasswordCheck(_ password: String) {
        _ = try? derive(password, salt: [UInt8](repeating: 0, count: 16), iterations: passwordIterations)
    }

    private static func derive(_ password: String, salt: [UInt8], iterations: Int) throws(AccessError) -> [UInt8] {
        do {
            let key = try KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: iterations)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw .invalid("cannot hash the password: \(error)")
        }
    }

    /// A new API token: `spt_` and 256 random bits (base64url). Shown once; only its hash is kept.
    public static func newToken() -> String {
        "spt_" + Base64URL.encode(randomBytes(32))
    }

    /// The SHA-256 of a token, hex: what the users file keeps.
    public static func tokenHash(_ token: String) -> String {
        Hex.encode(SHA256.hash(data: Array(token.utf8)))
    }

    /// Cryptographically random bytes.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        SymmetricKey(size: SymmetricKeySize(bitCount: count * 8)).withUnsafeBytes { Array($0) }
    }
}
