// Per-region rules and the limits of a load.

/// The order of day and month in slash-separated dates (`12/1/2010`).
public enum DateOrder: String, Sendable, Codable {
    /// Month first, as the seed files (`12/1/2010` is 1 December 2010).
    case mdy = "MDY"
    /// Day first (`1/12/2010` is 1 December 2010).
    case dmy = "DMY"
}

/// What the load needs to know about a sales region.
public struct RegionRules: Sendable, Equatable {
    /// The region code stored with every row (`IN`, `UK`, `USA`…).
    public var code: String
    /// Other names of the region, as file name stems may spell it (`usa`, `india`…).
    public var aliases: [String]
    /// How slash-separated dates of this region's files are written.
    public var dateOrder: DateOrder
    /// ISO 4217 currency of the region's prices.
    public var currency: String

    /// Rules for the region `code`.
    public init(code: String, aliases: [String] = [], dateOrder: DateOrder = .mdy, currency: String) {
        self.code = code
        self.aliases = aliases
        self.dateOrder = dateOrder
        self.currency = currency
    }

    /// True when `name` (a form field or a file name's stem) is the code or one of the aliases,
    /// whatever its case and surrounding spaces.
    public func matches(_ name: String) -> Bool {
        var trimmed = Substring(name)
        while trimmed.first?.isWhitespace == true { trimmed.removeFirst() }
        while trimmed.last?.isWhitespace == true { trimmed.removeLast() }
        let folded = trimmed.lowercased()
        return folded == code.lowercased() || aliases.contains { $0.lowercased() == folded }
    }
}

/// The character encoding of a raw file, as detected when it was stored.
public enum TextEncoding: String, Sendable, Codable {
    case utf8 = "utf-8"
    /// Excel's "ANSI" on Western Windows; every byte maps to one character.
    case windows1252 = "windows-1252"
}

/// Limits and rules of a load. The defaults suit the sales files.
public struct ETLSettings: Sendable, Equatable {
    /// Rows handed to the warehouse in one `insert` call.
    public var batchSize: Int
    /// A record longer than this (in bytes) is rejected as `record_too_long` without being
    /// buffered whole; a header line this long rejects the file.
    public var maxRecordBytes: Int
    /// How many rejected lines the load report lists (all are written to the rejects CSV).
    public var maxRejectsReported: Int
    /// Exact duplicates are recognized among the last this many loaded rows (0 turns the
    /// in-file check off; the warehouse still refuses row keys it holds). It costs 32 bytes
    /// per row; at most `maxDedupeWindowRows`.
    public var dedupeWindowRows: Int
    /// The largest duplicate window (16 Mi rows, 512 MiB).
    public static let maxDedupeWindowRows = 1 << 24
    /// Upper-case stock codes that are not products (postage, discounts, fees…).
    public var nonProductStockCodes: Set<String>
    /// Upper-case prefixes of stock codes that are not products (gift vouchers…).
    public var nonProductStockCodePrefixes: [String]
    /// Bytes read from the object store at a time.
    public var readChunkBytes: Int
    /// A line whose |Quantity| is larger is rejected as `out_of_range`.
    public var maxAbsQuantity: Int64
    /// A line whose |Quantity × UnitPrice| is larger (in currency units) is rejected as
    /// `out_of_range`, so that no line can make the exact totals of a report overflow.
    public var maxAbsLineRevenue: Int64

    /// The stock codes of the Online Retail data set that are charges, fees or adjustments.
    public static let defaultNonProductStockCodes: Set<String> = [
        "POST", "DOT", "D", "M", "C2", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS",
        "ADJUST", "ADJUST2", "TEST001", "TEST002",
    ]

    /// Settings with the given limits; out-of-range values are raised to their minimum
    /// (a batch of 1, a record limit of 64 bytes, a read chunk of 4 KiB).
    public init(
        batchSize: Int = 5000,
        maxRecordBytes: Int = 1 << 20,
        maxRejectsReported: Int = 20,
        dedupeWindowRows: Int = 100_000,
        nonProductStockCodes: Set<String> = ETLSettings.defaultNonProductStockCodes,
        nonProductStockCodePrefixes: [String] = ["GIFT_"],
        readChunkBytes: Int = 256 * 1024,
        maxAbsQuantity: Int64 = 1_000_000_000,
        maxAbsLineRevenue: Int64 = 1_000_000_000
    ) {
        self.batchSize = max(1, batchSize)
        self.maxRecordBytes = max(64, maxRecordBytes)
        self.maxRejectsReported = max(0, maxRejectsReported)
        self.dedupeWindowRows = min(max(0, dedupeWindowRows), ETLSettings.maxDedupeWindowRows)
        self.nonProductStockCodes = Set(nonProductStockCodes.map { $0.uppercased() })
        self.nonProductStockCodePrefixes = nonProductStockCodePrefixes.map { $0.uppercased() }
        self.readChunkBytes = max(4096, readChunkBytes)
        self.maxAbsQuantity = max(1, maxAbsQuantity)
        self.maxAbsLineRevenue = min(max(1, maxAbsLineRevenue), Int64.max / ExactDecimal.scale)
    }
}
