import Synchronization
@testable import Access
import Crypto
import Foundation
import Testing
import _CryptoExtras

/// RSA keys take a while to make: two for the whole suite.
private let googleKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
private let strangerKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

/// Pub/Sub's push tokens: only Google's RS256 ID token for our audience and push service account passes.
@Suite struct PushTokenVerifierTests {
    let audience = "https://sales.example.com/api/events/gcs"
    let account = "pubsub-push@sales-project.iam.gserviceaccount.com"
    let now: Int64 = 1_700_000_000

    func keysFile(_ keys: [(String, _RSA.Signing.PublicKey)]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("certs-\(UUID().uuidString).json").path
        let entries = try keys.map { kid, key -> [String: String] in
            let primitives = try key.getKeyPrimitives()
            return ["kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
                    "n": Base64URL.encode(primitives.modulus), "e": Base64URL.encode(primitives.publicExponent)]
        }
        // Google's set also lists keys of other kinds; they are passed over.
        let other: [String: String] = ["kty": "EC", "crv": "P-256", "kid": "ec", "x": "AA", "y": "AA"]
        try JSONSerialization.data(withJSONObject: ["keys": entries + [other]]).write(to: URL(fileURLWithPath: path))
        return path
    }

    func verifier(_ keys: [(String, _RSA.Signing.PublicKey)]? = nil) throws -> PushTokenVerifier {
        let path = try keysFile(keys ?? [("g1", googleKey.publicKey)])
        defer { unlink(path) }
        let verifier = try PushTokenVerifier(audience: audience, serviceAccount: account, source: .file(path))
        try verifier.loadKeys(now: now)
        return verifier
    }

    func claims(_ changes: [String: Any] = [:]) -> [String: Any] {
        var claims: [String: Any] = [
            "iss": "https://accounts.google.com", "aud": audience, "azp": "1234567890", "email": account,
            "email_verified": true, "sub": "1234567890", "iat": now - 5, "exp": now + 3600,
        ]
        for (name, value) in changes { claims[name] = value }
        return claims
    }

    func token(header: [String: Any] = ["alg": "RS256", "kid": "g1", "typ": "JWT"], claims: [String: Any],
               signer: _RSA.Signing.PrivateKey = googleKey) throws -> String {
        let head = Base64URL.encode(try JSONSerialization.data(withJSONObject: header))
        let body = Base64URL.encode(try JSONSerialization.data(withJSONObject: claims))
        let signature = try signer.signature(for: Array("\(head).\(body)".utf8), padding: .insecurePKCS1v1_5)
        return "\(head).\(body).\(Base64URL.encode(signature.rawRepresentation))"
    }

    func refusal(_ verifier: PushTokenVerifier, _ authorization: String?) -> AccessError? {
        do {
            _ = try verifier.verify(authorization: authorization, now: now)
            return nil
        } catch {
            return error
        }
    }

    @Test func googlesTokenForOurAudienceAndAccountGivesTheAccount() throws {
        let verifier = try verifier()
        #expect(try verifier.verify(authorization: "Bearer \(try token(claims: claims()))", now: now) == account)
        // The issuer without its scheme, as older tokens write it, and the audience as a list.
        let older = try token(claims: claims(["iss": "accounts.google.com", "aud": [audience]]))
        #expect(try verifier.verify(authorization: "bearer \(older)", now: now) == account)
    }

    @Test func anExpiredTokenIsRefusedPastASmallSkew() throws {
        let verifier = try verifier()
        let justExpired = try token(claims: claims(["exp": now - 10]))
        #expect(try verifier.verify(authorization: "Bearer \(justExpired)", now: now) == account)
        let expired = try token(claims: claims(["exp": now - 120]))
        #expect(refusal(verifier, "Bearer \(expired)") == .unauthenticated("the push token has expired"))
        let future = try token(claims: claims(["iat": now + 600]))
        #expect(refusal(verifier, "Bearer \(future)") == .unauthenticated("the push token is issued in the future"))
    }

    @Test func aTokenForAnotherAudienceIsUnauthenticated() throws {
        let verifier = try verifier()
        let other = try token(claims: claims(["aud": "https://elsewhere.example.com/push"]))
        #expect(refusal(verifier, "Bearer \(other)") == .unauthenticated("the push token is for another audience"))
    }

    @Test func aValidTokenOfAnotherAccountIsForbidden() throws {
        let verifier = try verifier()
        let other = try token(claims: claims(["email": "someone-else@other-project.iam.gserviceaccount.com"]))
        guard case .forbidden = refusal(verifier, "Bearer \(other)") else {
            Issue.record("another account's token was not refused as forbidden")
            return
        }
        let unverified = try token(claims: claims(["email_verified": false]))
        #expect(refusal(verifier, "Bearer \(unverified)") == .unauthenticated("the push token's e-mail address is not verified"))
        let noEmail = try token(claims: claims().filter { $0.key != "email" })
        #expect(refusal(verifier, "Bearer \(noEmail)") == .unauthenticated("the push token carries no e-mail address"))
        let wrongIssuer = try token(claims: claims(["iss": "https://cloud.google.com/iap"]))
        #expect(refusal(verifier, "Bearer \(wrongIssuer)") == .unauthenticated("the push token has the wrong issuer"))
    }

    @Test func aTokenSignedByAnotherKeyIsUnauthenticated() throws {
        let verifier = try verifier()
        let forged = try token(claims: claims(), signer: strangerKey)
        #expect(refusal(verifier, "Bearer \(forged)") == .unauthenticated("the push token's signature does not verify"))
        let unknownKid = try token(header: ["alg": "RS256", "kid": "nobody"], claims: claims(), signer: strangerKey)
        #expect(refusal(verifier, "Bearer \(unknownKid)") == .unauthenticated("the push token is signed by an unknown key"))
        // A valid token with its claims changed after signing.
        let parts = try token(claims: claims()).split(separator: ".").map(String.init)
        let changed = Base64URL.encode(try JSONSerialization.data(withJSONObject: claims(["exp": now + 999_999])))
        #expect(refusal(verifier, "Bearer \(parts[0]).\(changed).\(parts[2])")
            == .unauthenticated("the push token's signature does not verify"))
    }

    @Test func unsignedAndHMACTokensAreRefused() throws {
        let verifier = try verifier()
        let body = Base64URL.encode(try JSONSerialization.data(withJSONObject: claims()))
        let none = Base64URL.encode(Array(#"{"alg":"none","kid":"g1"}"#.utf8)) + ".\(body)."
        #expect(refusal(verifier, "Bearer \(none)") == .unauthenticated("the push token must be signed with RS256"))
        // HS256 with the public key's bytes as the secret: the classic confusion.
        let head = Base64URL.encode(Array(#"{"alg":"HS256","kid":"g1"}"#.utf8))
        let secret = SymmetricKey(data: googleKey.publicKey.derRepresentation)
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(head).\(body)".utf8), using: secret)
        #expect(refusal(verifier, "Bearer \(head).\(body).\(Base64URL.encode(Array(mac)))")
            == .unauthenticated("the push token must be signed with RS256"))
    }

    @Test func aMissingOrMalformedTokenIsUnauthenticated() throws {
        let verifier = try verifier()
        for authorization in [nil, "", "Bearer", "Basic cHVzaDpwdXNo", "Bearer not.a.jwt", "Bearer \(String(repeating: "a", count: 9000))"] {
            guard case .unauthenticated = refusal(verifier, authorization) else {
                Issue.record("\(authorization ?? "no header") was not refused as unauthenticated")
                continue
            }
        }
    }

    @Test func aRotatedKeyIsFoundByReadingTheKeysAgain() throws {
        let path = try keysFile([("g1", googleKey.publicKey)])
        defer { unlink(path) }
        let verifier = try PushTokenVerifier(audience: audience, serviceAccount: account, source: .file(path))
        try verifier.loadKeys(now: now - 120)
        // Google publishes a new key; a token signed with it is verified after the set is read again.
        try JSONSerialization.data(withJSONObject: ["keys": [[
            "kty": "RSA", "kid": "g2", "n": Base64URL.encode(try strangerKey.publicKey.getKeyPrimitives().modulus),
            "e": Base64URL.encode(try strangerKey.publicKey.getKeyPrimitives().publicExponent),
        ]]]).write(to: URL(fileURLWithPath: path))
        let rotated = try token(header: ["alg": "RS256", "kid": "g2"], claims: claims(), signer: strangerKey)
        #expect(try verifier.verify(authorization: "Bearer \(rotated)", now: now) == account)
    }

    @Test func settingsAndKeysAreCheckedAtStart() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("certs-\(UUID().uuidString).json").path
        defer { unlink(path) }
        try Data(#"{"keys":[{"kty":"EC","kid":"e"}]}"#.utf8).write(to: URL(fileURLWithPath: path))
        let verifier = try PushTokenVerifier(audience: audience, serviceAccount: account, source: .file(path))
        #expect(throws: AccessError.self) { try verifier.loadKeys(now: now) }
        #expect(throws: AccessError.self) { try PushTokenVerifier(audience: "", serviceAccount: account, source: .file(path)) }
        #expect(throws: AccessError.self) { try PushTokenVerifier(audience: audience, serviceAccount: "", source: .file(path)) }
    }
}

/// Google's keys are fetched again for an unknown key id at most once a minute, whether or not
/// the fetch works: made-up key ids cannot make each request wait for a slow or failing URL.
@Suite struct JWKRefreshTests {
    @Test func aFailingFetchIsNotTriedAgainWithinAMinute() throws {
        let calls = Mutex(0)
        let cache = JWKKeyCache(source: .url("https://keys.example/jwk", fetch: { _ in
            let call = calls.withLock { $0 += 1; return $0 }
            guard call == 1 else { throw AccessError.keys("down") }
            return Array(#"{"keys":[{"kid":"g1"}]}"#.utf8)
        }), what: "the test keys", material: { _ in [1] })
        try cache.load(now: 0)
        #expect(try cache.key("g1", now: 10, what: "the token") == [1])
        #expect(throws: AccessError.self) { try cache.key("made-up", now: 100, what: "the token") }
        #expect(calls.withLock { $0 } == 2)
        for second in 101..<160 {
            #expect(throws: AccessError.self) { try cache.key("made-up-\(second)", now: Int64(second), what: "the token") }
        }
        #expect(calls.withLock { $0 } == 2, "no fetch within the minute after a failed one")
        #expect(try cache.key("g1", now: 150, what: "the token") == [1], "the known key still works")
        #expect(throws: AccessError.self) { try cache.key("made-up", now: 160, what: "the token") }
        #expect(calls.withLock { $0 } == 3)
    }
}
