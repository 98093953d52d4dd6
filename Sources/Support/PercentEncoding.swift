// Percent-encoding (RFC 3986) for URLs the portal writes: object names, query values, redirects.

/// Percent-encoding of URL path segments and query values.
public enum PercentEncoding {
    private static let hex: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Encodes every byte of the UTF-8 except the unreserved characters `A-Z a-z 0-9 - . _ ~`
    /// (and `keeping`), so `/`, `?`, `#`, `%`, `+`, spaces and non-ASCII are all escaped: right
    /// for an object name as one path segment and for query values.
    public static func encode(_ text: String, keeping extra: Set<UInt8> = []) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case _ where extra.contains(byte):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `name=value&…` with each value encoded.
    public static func query(_ items: [(String, String)]) -> String {
        items.map { "\($0.0)=\(encode($0.1))" }.joined(separator: "&")
    }
}
