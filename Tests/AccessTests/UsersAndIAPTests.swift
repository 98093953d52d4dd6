import Access
import Crypto
import Foundation
import Testing

@Suite struct UserDirectoryTests {
    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("users-\(UUID().uuidString).json").path
    }

    @Test func theFileIsWrittenOwnerOnlyAndReadAgainWhenItChanges() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        let token = Secrets.newToken()
        var file = UsersFile(users: [UserAccount(name: "alice", role: .admin, regions: .all,
                                                 tokens: [APIToken(label: "ci", sha256: Secrets.tokenHash(token), created: "now")])])
        try file.write(to: path)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let directory = try UserDirectory(path: path)
        #expect(directory.account(named: "ALICE")?.role == .admin)
        #expect(directory.account(forToken: token)?.label == "ci")
        #expect(directory.account(forToken: token + "x") == nil)

        file.users.append(UserAccount(name: "bob", role: .viewer, regions: .only(["IN"])))
        file.users[0].tokens = []
        try file.write(to: path)
        #expect(directory.account(named: "bob")?.scope == .only(["IN"]))
        #expect(directory.account(forToken: token) == nil, "a revoked token stops working without a restart")
    }

    @Test func aBrokenFileKeepsTheLastGoodAccounts() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        try UsersFile(users: [UserAccount(name: "alice", role: .viewer, regions: .all)]).write(to: path)
        let directory = try UserDirectory(path: path)
        try "{ not json".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(directory.account(named: "alice") != nil)
    }

    @Test func aMissingFileHasNoUsers() throws {
        #expect(try UserDirectory(path: temporaryPath()).count == 0)
    }

    @Test func namesWithSpacesOrSeparatorsAreRefused() {
        for name in ["", "a b", "a:b", "x$y", String(repeating: "n", count: 255)] {
            #expect(throws: AccessError.self) { try UsersFile.validateName(name) }
        }
        #expect(throws: Never.self) { try UsersFile.validateName("ana.lopez@example.com") }
    }
}

@Suite struct IAPVerifierTests {
    let audience = "/projects/123/global/backendServices/456"
    let key = P256.Signing.PrivateKey()

    func keysFile(_ keys: [(String, P256.Signing.PublicKey)]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jwk-\(UUID().uuidString).json").path
        let entries = keys.map { kid, key -> [String: String] in
            let raw = Array(key.rawRepresentation)
            return ["kty": "EC", "crv": "P-256", "alg": "ES256", "kid": kid,
                    "x": Base64URL.encode(raw[0..<32]), "y": Base64URL.encode(raw[32..<64])]
        }
        try JSONSerialization.data(withJSONObject: ["keys": entries]).write(to: URL(fileURLWithPath: path))
        return path
    }

    func token(header: [String: Any] = ["alg": "ES256", "kid": "k1"], claims: [String: Any], signer: P256.Signing.PrivateKey? = nil)
        throws -> String {
        let head = Base64URL.encode(try JSONSerialization.data(withJSONObject: header))
        let body = Base64URL.encode(try JSONSerialization.data(withJSONObject: claims))
        let signature = try (signer ?? key).signature(for: Array("\(head).\(body)".utf8))
        return "\(head).\(body).\(Base64URL.encode(signature.rawRepresentation))"
    }

    func claims(now: Int64, audience: String? = nil, email: String = "accounts.google.com:ana@example.com") -> [String: Any] {
        ["iss": IAPVerifier.issuer, "aud": audience ?? self.audience, "iat": now - 10, "exp": now + 600, "email": email,
         "sub": "accounts.google.com:1"]
    }

    @Test func onlyAValidAssertionGivesItsEmail() throws {
        let path = try keysFile([("k1", key.publicKey)])
        defer { unlink(path) }
        let verifier = try IAPVerifier(audience: audience, source: .file(path))
        try verifier.loadKeys(now: 1_000)
        let now: Int64 = 1_000
        #expect(try verifier.verify(try token(claims: claims(now: now)), now: now) == "ana@example.com")

        var expired = claims(now: now)
        expired["exp"] = now - 100
        let refused: [String] = [
            try token(claims: expired),
            try token(claims: claims(now: now, audience: "/projects/999/apps/other")),
            try token(claims: claims(now: now), signer: P256.Signing.PrivateKey()),
            try token(header: ["alg": "ES256", "kid": "unknown"], claims: claims(now: now)),
            Base64URL.encode(Array(#"{"alg":"none","kid":"k1"}"#.utf8)) + "."
                + Base64URL.encode(try JSONSerialization.data(withJSONObject: claims(now: now))) + ".",
            try token(header: ["alg": "HS256", "kid": "k1"], claims: claims(now: now)),
            "not.a.jwt", "",
        ]
        for assertion in refused {
            #expect(throws: AccessError.self) { _ = try verifier.verify(assertion, now: now) }
        }
    }

    @Test func aSmallClockSkewIsTolerated() throws {
        let path = try keysFile([("k1", key.publicKey)])
        defer { unlink(path) }
        let verifier = try IAPVerifier(audience: audience, source: .file(path), clockSkewSeconds: 30)
        try verifier.loadKeys(now: 0)
        var almost = claims(now: 1_000)
        almost["exp"] = 990
        #expect(try verifier.verify(try token(claims: almost), now: 1_000) == "ana@example.com")
        almost["exp"] = 960
        #expect(throws: AccessError.self) { _ = try verifier.verify(try token(claims: almost), now: 1_000) }
    }

    @Test func aKeysFileWithoutP256KeysIsRefusedAtStart() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jwk-\(UUID().uuidString).json").path
        defer { unlink(path) }
        try Data(#"{"keys":[{"kty":"RSA","kid":"r"}]}"#.utf8).write(to: URL(fileURLWithPath: path))
        let verifier = try IAPVerifier(audience: audience, source: .file(path))
        #expect(throws: AccessError.self) { try verifier.loadKeys(now: 0) }
        #expect(throws: AccessError.self) { try IAPVerifier(audience: "", source: .file(path)) }
    }
}
