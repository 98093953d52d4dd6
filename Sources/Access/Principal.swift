/// What a user may do, from least to most.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    /// Reads the dashboard, the reports and the history of its regions.
    case viewer
    /// A viewer that also uploads files for its regions and retracts its own uploads.
    case uploader
    /// Everything, every region.
    case admin

    private var rank: Int {
        switch self {
        case .viewer: 0
        case .uploader: 1
        case .admin: 2
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// The regions a user may see: all, or a list of region codes (upper case).
public enum RegionScope: Sendable, Equatable {
    case all
    case only(Set<String>)

    /// Parses `*` or a comma-separated list (`IN,UK`); codes are upper-cased.
    public static func parse(_ text: String) -> RegionScope? {
        let trimmed = text.trimmingCharacters(in: " ")
        if trimmed == "*" { return .all }
        let codes = trimmed.split(separator: ",").map { $0.trimmingCharacters(in: " ").uppercased() }
        guard !codes.isEmpty, codes.allSatisfy({ !$0.isEmpty && $0 != "*" && $0.utf8.allSatisfy(Self.isCodeByte) }) else {
            return nil
        }
        return .only(Set(codes))
    }

    /// From the users file's list (`["*"]` or codes). An empty list (easy to leave when editing the
    /// file by hand) means no region at all, never every region.
    public init(list: [String]) {
        if list.contains("*") { self = .all } else { self = .only(Set(list.map { $0.uppercased() })) }
    }

    /// The users file's list: `["*"]` or the sorted codes.
    public var list: [String] {
        switch self {
        case .all: ["*"]
        case .only(let codes): codes.sorted()
        }
    }

    /// Whether `region` (any case) is one of these.
    public func allows(_ region: String) -> Bool {
        switch self {
        case .all: true
        case .only(let codes): codes.contains(region.uppercased())
        }
    }

    /// nil for all regions, else the sorted codes.
    public var restriction: [String]? {
        switch self {
        case .all: nil
        case .only(let codes): codes.sorted()
        }
    }

    private static func isCodeByte(_ byte: UInt8) -> Bool {
        (byte >= 65 && byte <= 90) || (byte >= 48 && byte <= 57) || byte == 95 || byte == 45
    }
}

/// Who is asking, established for one request.
public struct Principal: Sendable, Equatable {
    /// The user's name (an e-mail address in IAP mode), or `anonymous` when access control is off.
    public var name: String
    public var role: Role
    public var regions: RegionScope
    /// How the identity was established.
    public var method: Method

    /// How a request proved who it comes from.
    public enum Method: String, Sendable {
        /// Access control is off (loopback only): everyone is an admin.
        case none
        /// `Authorization: Bearer` with an API token.
        case bearer
        /// The signed session cookie of a browser.
        case session
        /// Google's Identity-Aware Proxy header.
        case iap
    }

    public init(name: String, role: Role, regions: RegionScope, method: Method) {
        self.name = name
        self.role = role
        self.regions = regions
        self.method = method
    }

    /// Everyone, when access control is off.
    public static let anonymous = Principal(name: "anonymous", role: .admin, regions: .all, method: .none)

    /// Whether the role is at least `role`.
    public func has(_ role: Role) -> Bool { self.role >= role }
}

extension StringProtocol {
    /// The text without leading and trailing occurrences of `character`.
    func trimmingCharacters(in character: Character) -> String {
        var slice = Substring(self)
        while slice.first == character { slice.removeFirst() }
        while slice.last == character { slice.removeLast() }
        return String(slice)
    }
}
