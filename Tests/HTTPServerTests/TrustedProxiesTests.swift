import Testing
@testable import HTTPServer

/// Whose `X-Forwarded-For` is believed, and which entry names the client.
@Suite struct TrustedProxiesTests {
    let lb = TrustedProxies.parseIPv4("35.191.4.2")!
    let client = TrustedProxies.parseIPv4("203.0.113.9")!

    @Test func spoofedForwardedForFromAnUntrustedPeerIsIgnored() throws {
        let proxies = try TrustedProxies(parsing: ["35.191.0.0/16"])
        #expect(proxies.client(peer: client, forwardedFor: ["10.0.0.1"]) == client)
    }

    @Test func aHopTheClientWroteItselfDoesNotCount() throws {
        let proxies = try TrustedProxies(parsing: ["35.191.0.0/16", "10.1.2.3"])
        // The client sent "1.2.3.4"; the load balancer appended the address it saw, then an inner proxy.
        #expect(proxies.client(peer: lb, forwardedFor: ["1.2.3.4, 203.0.113.9", "35.191.9.9"]) == client)
        #expect(proxies.client(peer: lb, forwardedFor: []) == lb)
        #expect(proxies.client(peer: lb, forwardedFor: ["junk, 35.191.1.1"]) == TrustedProxies.parseIPv4("35.191.1.1"))
    }

    @Test func entriesThatAreNotIPv4AreRefused() {
        for bad in ["proxy.example", "10.0.0.0/33", "1.2.3", "1.2.3.256", "::1", "10.0.0.1/", ""] {
            #expect(throws: TrustedProxiesError.self) { try TrustedProxies(parsing: [bad]) }
        }
        #expect(TrustedProxies.parseIPv4("01.2.3.4") == 0x0102_0304)
        #expect(TrustedProxies.parseIPv4("1.2.3.4.5") == nil)
    }

    @Test func networksMatchTheirWholeRange() throws {
        let proxies = try TrustedProxies(parsing: ["130.211.0.0/22", "0.0.0.0/0"])
        #expect(proxies.contains(TrustedProxies.parseIPv4("130.211.3.255")!))
        let narrow = try TrustedProxies(parsing: ["130.211.0.0/22"])
        #expect(!narrow.contains(TrustedProxies.parseIPv4("130.211.4.0")!))
    }
}
