/// Header fields in the order they were received or added; names compare case-insensitively.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, Equatable {
    /// One header field.
    public typealias Field = (name: String, value: String)

    private var fields: [Field] = []

    /// No fields.
    public init() {}

    /// The given fields, in order.
    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    /// The given fields, in the literal's order.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// Number of fields.
    public var count: Int { fields.count }

    /// Whether there are no fields.
    public var isEmpty: Bool { fields.isEmpty }

    /// The value of the first field with this name, or nil.
    public subscript(name: String) -> String? {
        for field in fields where Self.equalNames(field.name, name) { return field.value }
        return nil
    }

    /// Whether a field with this name exists.
    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// All values of the fields with this name, in order.
    public func values(for name: String) -> [String] {
        fields.compactMap { Self.equalNames($0.name, name) ? $0.value : nil }
    }

    /// Appends a field, keeping any existing field of the same name.
    public mutating func add(_ name: String, _ value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces the first field with this name (removing the others), or appends it.
    public mutating func replaceOrAdd(_ name: String, _ value: String) {
        if let index = fields.firstIndex(where: { Self.equalNames($0.name, name) }) {
            fields[index].value = value
            var next = index + 1
            while next < fields.count {
                if Self.equalNames(fields[next].name, name) { fields.remove(at: next) } else { next += 1 }
            }
        } else {
            fields.append((name: name, value: value))
        }
    }

    /// Removes every field with this name.
    public mutating func remove(_ name: String) {
        fields.removeAll { Self.equalNames($0.name, name) }
    }

    /// Iterates the fields in order.
    public func makeIterator() -> IndexingIterator<[Field]> {
        fields.makeIterator()
    }

    /// Same fields with the same values in the same order (names compared case-insensitively).
    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        guard lhs.fields.count == rhs.fields.count else { return false }
        for (left, right) in zip(lhs.fields, rhs.fields) {
            if !equalNames(left.name, right.name) || left.value != right.value { return false }
        }
        return true
    }

    /// ASCII case-insensitive comparison, without allocating. Names of different lengths
    /// differ at once; native strings are compared over their contiguous UTF-8 bytes.
    static func equalNames(_ lhs: String, _ rhs: String) -> Bool {
        let left = lhs.utf8, right = rhs.utf8
        guard left.count == right.count else { return false }
        let fast = left.withContiguousStorageIfAvailable { leftBytes in
            right.withContiguousStorageIfAvailable { rightBytes in
                for index in 0..<leftBytes.count {
                    let a = leftBytes[index], b = rightBytes[index]
                    if a != b && ASCII.lowercase(a) != ASCII.lowercase(b) { return false }
                }
                return true
            }
        }
        if let fast, let result = fast { return result }
        for (a, b) in zip(left, right) where a != b && ASCII.lowercase(a) != ASCII.lowercase(b) {
            return false
        }
        return true
    }

    /// Whether a comma-separated header value lists this token (case-insensitive), ignoring parameters.
    static func listContains(_ value: String, token: String) -> Bool {
        for part in value.split(separator: ",") {
            let item = part.split(separator: ";", maxSplits: 1).first ?? part[...]
            if equalNames(String(item.trimmingASCIISpaces()), token) { return true }
        }
        return false
    }
}

/// Byte-level helpers for the ASCII parts of HTTP.
enum ASCII {
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10
    static let space: UInt8 = 32
    static let tab: UInt8 = 9
    static let colon: UInt8 = 58

    @inline(__always) static func lowercase(_ byte: UInt8) -> UInt8 {
        byte >= 65 && byte <= 90 ? byte | 0x20 : byte
    }

    /// RFC 9110 tchar: the characters allowed in methods and header names.
    static let isTokenByte: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for byte in UInt8(48)...57 { table[Int(byte)] = true }
        for byte in UInt8(65)...90 { table[Int(byte)] = true }
        for byte in UInt8(97)...122 { table[Int(byte)] = true }
        for char in "!#$%&'*+-.^_`|~".utf8 { table[Int(char)] = true }
        return table
    }()

    @inline(__always) static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: return byte - 48
        case 65...70: return byte - 55
        case 97...102: return byte - 87
        default: return nil
        }
    }
}

extension Substring {
    /// The substring without leading and trailing spaces and tabs.
    func trimmingASCIISpaces() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}
