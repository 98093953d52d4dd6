import Access
import Testing

@Suite struct SecretsTests {
    @Test func passwordHashVerifiesOnlyTheSamePassword() throws {
        let hash = try Secrets.hashPassword("correct horse battery", iterations: 1_000)
        #expect(hash.hasPrefix("pbkdf2-sha256$1000$"))
        #expect(Secrets.verifyPassword("correct horse battery", hash: hash))
        #expect(!Secrets.verifyPassword("correct horse batterY", hash: hash))
        #expect(!Secrets.verifyPassword("", hash: hash))
    }

    @Test func twoHashesOfOnePasswordDifferBySalt() throws {
        let first = try Secrets.hashPassword("same password here", iterations: 1_000)
        let second = try Secrets.hashPassword("same password here", iterations: 1_000)
        #expect(first != second)
        #expect(Secrets.verifyPassword("same password here", hash: second))
    }

    @Test func defaultIterationsAreOWASPs() throws {
        #expect(Secrets.passwordIterations == 600_000)
        let hash = try Secrets.hashPassword("a long enough password")
        #expect(hash.split(separator: "$")[1] == "600000")
    }

    @Test func malformedOrWeakStoredHashesNeverMatch() {
        for stored in ["", "plain", "pbkdf2-sha256$10$AAAA$AAAA", "md5$1$x$y", "pbkdf2-sha256$600000$!!$AAAA",
                       "pbkdf2-sha256$600000$AAAAAAAAAAAAAAAAAAAAAA$AAAA"] {
            #expect(!Secrets.verifyPassword("anything", hash: stored), "\(stored)")
        }
    }

    @Test func tokensAre256RandomBitsAndHashToHexSHA256() {
        let token = Secrets.newToken()
        #expect(token.hasPrefix("spt_"))
        #expect(Base64URL.decode(token.dropFirst(4))?.count == 32)
        #expect(Secrets.newToken() != token)
        // SHA-256("abc")
        #expect(Secrets.tokenHash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func base64URLRoundTripsEveryLength() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text) == bytes)
        }
        #expect(Base64URL.decode("a") == nil)
        #expect(Base64URL.decode("ab$c") == nil)
        #expect(Base64URL.decode("+/8=") == [0xFB, 0xFF])
    }

    @Test func constantTimeEqualityComparesWholeInputs() {
        #expect(ConstantTime.equal([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2]))
    }
}
