/// The proxies in front of the server (a load balancer, Cloud Run's front end, nginx) whose
/// `X-Forwarded-For` is believed. A request from one of them is taken to come from the address
/// its proxy chain saw: the rightmost `X-Forwarded-For` entry that is not itself a trusted
/// proxy. A request from anyone else is taken to come from its TCP peer, whatever it claims.
/// IPv4 only, like the listener.
public struct TrustedProxies: Sendable, Equatable {
    /// Networks as (address, mask), host byte order.
    private var networks: [(address: UInt32, mask: UInt32)] = []

    /// No proxy: every request comes from its TCP peer.
    public init() {}

    /// From addresses and networks such as `10.0.0.7`, `35.191.0.0/16`; nil names the first entry that is neither.
    public init(parsing entries: [String]) throws(TrustedProxiesError) {
        for entry in entries {
            let text = entry.trimmingASCIISpacesString()
            let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let address = Self.parseIPv4(parts[0]) else { throw TrustedProxiesError(entry: entry) }
            var bits = 32
            if parts.count == 2 {
                guard let parsed = Int(parts[1]), (0...32).contains(parsed) else { throw TrustedProxiesError(entry: entry) }
                bits = parsed
            }
            let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << UInt32(32 - bits)
            networks.append((address & mask, mask))
        }
    }

    public static func == (lhs: TrustedProxies, rhs: TrustedProxies) -> Bool {
        lhs.networks.map(\.address) == rhs.networks.map(\.address) && lhs.networks.map(\.mask) == rhs.networks.map(\.mask)
    }

    /// Whether no proxy is trusted.
    public var isEmpty: Bool { networks.isEmpty }

    /// Whether `address` is one of the trusted proxies.
    public func contains(_ address: UInt32) -> Bool {
        networks.contains { address & $0.mask == $0.address }
    }

    /// The client of a request that arrived from `peer` with these `X-Forwarded-For` values
    /// (every header line, in order). A malformed entry stops the walk at the proxy that wrote it.
    public func client(peer: UInt32, forwardedFor: [String]) -> UInt32 {
        guard contains(peer), !forwardedFor.isEmpty else { return peer }
        var client = peer
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }
        for hop in hops.reversed() {
            guard let address = Self.parseIPv4(Substring(hop.trimmingASCIISpacesString())) else { return client }
            client = address
            if !contains(address) { return address }
        }
        return client
    }

    /// `a.b.c.d` in host byte order; nil for anything else.
    static func parseIPv4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.utf8.count), part.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  let byte = UInt32(part), byte <= 255 else { return nil }
            value = value << 8 | byte
        }
        return value
    }
}

/// A `server.trustedProxies` entry that is neither an IPv4 address nor a network.
public struct TrustedProxiesError: Error, Sendable, Equatable {
    public var entry: String
}

extension StringProtocol {
    fileprivate func trimmingASCIISpacesString() -> String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view = view.dropFirst() }
        while let last = view.last, last == " " || last == "\t" { view = view.dropLast() }
        return String(view)
    }
}
