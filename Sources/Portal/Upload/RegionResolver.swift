/// Finds a region by its code or one of its aliases, case-insensitively.
import Support

struct RegionResolver: Sendable {
    private let byName: [String: RegionConfig]

    init(regions: [RegionConfig]) {
        var byName: [String: RegionConfig] = [:]
        for region in regions {
            byName[Self.key(region.code)] = region
            for alias in region.aliases { byName[Self.key(alias)] = region }
        }
        self.byName = byName
    }

    /// The region named by `text` (a code or alias), if any.
    func region(named text: String) -> RegionConfig? {
        byName[Self.key(text)]
    }

    /// The region a file name stands for: its stem (`IN.csv`, `usa.csv`), or the stem's
    /// first word (`UK_2011-03.csv`, `IN sales.csv`).
    func region(forFileName fileName: String) -> RegionConfig? {
        let base = fileName.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? fileName
        let stem = base.split(separator: ".", omittingEmptySubsequences: false).first.map(String.init) ?? base
        if let region = region(named: stem) { return region }
        let firstWord = stem.split(whereSeparator: { $0 == "_" || $0 == "-" || $0 == " " }).first.map(String.init) ?? stem
        return region(named: firstWord)
    }

    private static func key(_ text: String) -> String {
        text.trimmingSpaces().uppercased()
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line ends.
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}

/// Object names: safe in a path and in a bucket, recognisable to people.
enum ObjectNaming {
    /// `uploads/{region}/{yyyy}/{mm}/{dd}/{upload-id}/{sanitized name}`.
    static func rawFile(region: String, uploadID: String, fileName: String, atMicros: Int64) -> String {
        "\(folder(region: region, uploadID: uploadID, atMicros: atMicros))/\(sanitize(fileName))"
    }

    /// The rejected lines beside the raw file: `rejects.csv`, or `rejects-{attempt}.csv` for a resumed load.
    static func rejects(region: String, uploadID: String, atMicros: Int64, attempt: String? = nil) -> String {
        "\(folder(region: region, uploadID: uploadID, atMicros: atMicros))/rejects\(attempt.map { "-" + $0 } ?? "").csv"
    }

    private static func folder(region: String, uploadID: String, atMicros: Int64) -> String {
        let date = Clock.utcDate(micros: atMicros)
        return "uploads/\(sanitize(region))/\(date.year)/\(Clock.pad(Int32(date.month)))/\(Clock.pad(Int32(date.day)))/\(uploadID)"
    }

    /// Keeps letters, digits, `.`, `-` and `_` of the last path component; no leading dot; at most 120 bytes.
    static func sanitize(_ fileName: String) -> String {
        let base = fileName.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        var bytes: [UInt8] = base.utf8.map { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
                byte
            default: UInt8(ascii: "_")
            }
        }
        while bytes.first == UInt8(ascii: ".") { bytes.removeFirst() }
        if bytes.count > 120 { bytes = Array(bytes.suffix(120)) }
        return bytes.isEmpty ? "upload.csv" : String(decoding: bytes, as: UTF8.self)
    }
}
