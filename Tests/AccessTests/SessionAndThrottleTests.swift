import Access
import Testing

@Suite struct SessionSignerTests {
    let key = [UInt8](repeating: 7, count: 32)

    @Test func anIssuedCookieVerifiesUntilItExpires() throws {
        let signer = try SessionSigner(key: key, lifetimeSeconds: 600)
        let (session, cookie) = signer.issue(user: "alice", credentialTag: "tag", now: 1_000)
        #expect(signer.verify(cookie, now: 1_000) == session)
        #expect(signer.verify(cookie, now: 1_599)?.user == "alice")
        #expect(signer.verify(cookie, now: 1_600) == nil, "the expiry inside the signed value is enforced")
    }

    @Test func anotherReplicaWithTheSameKeyAcceptsTheCookieAndOneWithAnotherKeyDoesNot() throws {
        let (_, cookie) = try SessionSigner(key: key, lifetimeSeconds: 600).issue(user: "alice", credentialTag: "t", now: 0)
        #expect(try SessionSigner(key: key, lifetimeSeconds: 600).verify(cookie, now: 1)?.user == "alice")
        #expect(try SessionSigner(key: [UInt8](repeating: 8, count: 32), lifetimeSeconds: 600).verify(cookie, now: 1) == nil)
    }

    @Test func aForgedOrAlteredCookieIsRefused() throws {
        let signer = try SessionSigner(key: key, lifetimeSeconds: 600)
        let (_, cookie) = signer.issue(user: "bob", credentialTag: "t", now: 0)
        let dot = try #require(cookie.lastIndex(of: "."))
        // Claim to be the admin with bob's signature.
        let forgedPayload = Base64URL.encode(Array("s1 admin x 0 999999 t".utf8))
        #expect(signer.verify(forgedPayload + cookie[dot...], now: 1) == nil)
        #expect(signer.verify(String(cookie.dropLast()), now: 1) == nil)
        #expect(signer.verify(String(cookie[..<dot]), now: 1) == nil)
        #expect(signer.verify("", now: 1) == nil)
    }

    @Test func signingOutRevokesTheSession() throws {
        let signer = try SessionSigner(key: key, lifetimeSeconds: 600)
        let (session, cookie) = signer.issue(user: "alice", credentialTag: "t", now: 0)
        signer.revoke(session, now: 1)
        #expect(signer.verify(cookie, now: 2) == nil)
    }

    @Test func csrfTokensAreBoundToTheSession() throws {
        let signer = try SessionSigner(key: key, lifetimeSeconds: 600)
        let token = signer.csrfToken(sessionID: "session a")
        #expect(signer.checkCSRFToken(token, sessionID: "session a"))
        #expect(!signer.checkCSRFToken(token, sessionID: "session b"))
        #expect(!signer.checkCSRFToken("", sessionID: "session a"))
    }

    @Test func shortKeysAreRefused() {
        #expect(throws: AccessError.self) { try SessionSigner(key: [1, 2, 3], lifetimeSeconds: 60) }
    }

    @Test func aPasswordChangeChangesTheCredentialTag() {
        #expect(SessionSigner.credentialTag(passwordHash: "a") != SessionSigner.credentialTag(passwordHash: "b"))
        #expect(SessionSigner.credentialTag(passwordHash: nil) == SessionSigner.credentialTag(passwordHash: nil))
    }
}

@Suite struct LoginThrottleTests {
    let limits = LoginThrottle.Limits(windowSeconds: 100, maxFailuresPerAddress: 6, maxFailuresPerUser: 3)

    @Test func failuresForOneUserFromOneAddressMakeThatPairWait() {
        let throttle = LoginThrottle(limits: limits)
        for second in 0..<3 {
            #expect(throttle.retryAfter(user: "alice", address: "10.0.0.9", now: Int64(second)) == nil)
            throttle.recordFailure(user: "alice", address: "10.0.0.9", now: Int64(second))
        }
        // The oldest of the three failures leaves the window at 100 s.
        #expect(throttle.retryAfter(user: "alice", address: "10.0.0.9", now: 10) == 90)
        #expect(throttle.retryAfter(user: "ALICE", address: "10.0.0.9", now: 10) == 90, "names compare ignoring case")
        #expect(throttle.retryAfter(user: "alice", address: "10.0.0.9", now: 100) == nil, "the window slides")
    }

    @Test func anotherPersonsFailuresDoNotSlowAUserFromTheirOwnAddress() {
        let throttle = LoginThrottle(limits: limits)
        for second in 0..<20 { throttle.recordFailure(user: "alice", address: "attacker", now: Int64(second)) }
        #expect(throttle.retryAfter(user: "alice", address: "attacker", now: 20) != nil)
        #expect(throttle.retryAfter(user: "alice", address: "office", now: 20) == nil)
    }

    @Test func oneAddressGuessingManyNamesIsSlowedAsAWhole() {
        let throttle = LoginThrottle(limits: limits)
        for index in 0..<6 { throttle.recordFailure(user: "user\(index)", address: "attacker", now: 5) }
        #expect(throttle.retryAfter(user: "someone-new", address: "attacker", now: 6) == 99)
        #expect(throttle.retryAfter(user: "someone-new", address: "elsewhere", now: 6) == nil)
    }

    @Test func aSuccessForgetsThatUsersFailuresFromThatAddress() {
        let throttle = LoginThrottle(limits: limits)
        for second in 0..<2 { throttle.recordFailure(user: "alice", address: "home", now: Int64(second)) }
        throttle.recordSuccess(user: "alice", address: "home")
        throttle.recordFailure(user: "alice", address: "home", now: 3)
        throttle.recordFailure(user: "alice", address: "home", now: 4)
        #expect(throttle.retryAfter(user: "alice", address: "home", now: 5) == nil)
    }
}

@Suite struct RegionScopeTests {
    @Test func parsesStarAndCodeLists() {
        #expect(RegionScope.parse("*") == .all)
        #expect(RegionScope.parse(" in, uk ") == .only(["IN", "UK"]))
        #expect(RegionScope.parse("") == nil)
        #expect(RegionScope.parse("IN,*") == nil)
        #expect(RegionScope.parse("IN;DROP") == nil)
        #expect(RegionScope(list: ["*"]) == .all)
        #expect(RegionScope(list: []) == .only([]), "an empty list in a hand-edited users file is no region, not all of them")
        #expect(!RegionScope(list: []).allows("IN"))
        #expect(RegionScope.only(["UK", "IN"]).list == ["IN", "UK"])
        #expect(RegionScope.only(["IN"]).allows("in"))
        #expect(!RegionScope.only(["IN"]).allows("UK"))
        #expect(RegionScope.all.restriction == nil)
    }

    @Test func rolesAreOrdered() {
        #expect(Role.viewer < Role.uploader && Role.uploader < Role.admin)
        let viewer = Principal(name: "v", role: .viewer, regions: .all, method: .bearer)
        #expect(viewer.has(.viewer) && !viewer.has(.uploader))
        #expect(Principal.anonymous.has(.admin))
    }
}
