import CNative

/// gzip compression through zlib, and the rules for when a response is compressed.
public enum Gzip {
    /// The gzip encoding of `bytes`, or nil if zlib fails.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8]? {
        var stream = z_stream()
        guard cn_deflate_init_gzip(&stream, level) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(bytes.count))) + 32
        var output = [UInt8](repeating: 0, count: bound)
        let status: Int32 = bytes.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { return nil }
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }

    /// The decoded bytes of a gzip (or zlib) stream, or nil if it is malformed or larger than `limit`.
    public static func decompress(_ bytes: [UInt8], limit: Int = 1 << 30) -> [UInt8]? {
        var stream = z_stream()
        guard cn_inflate_init_gzip(&stream) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        return bytes.withUnsafeBufferPointer { input -> [UInt8]? in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { out -> (Int32, Int) in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    return (status, out.count - Int(stream.avail_out))
                }
                output.append(contentsOf: chunk[0..<produced])
                if output.count > limit { return nil }
                if status == Z_STREAM_END { return output }
                if status != Z_OK || (produced == 0 && stream.avail_in == 0) { return nil }
            }
        }
    }

    /// Whether a Content-Type is text-like and worth compressing.
    static func isCompressible(contentType: String) -> Bool {
        let type = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingASCIISpaces().lowercased() } ?? ""
        return type.hasPrefix("text/") || type == "application/json" || type == "application/javascript"
            || type == "image/svg+xml" || type == "application/xml" || type.hasSuffix("+json")
    }

    /// Whether an Accept-Encoding value allows gzip (listed, or "*", without q=0).
    static func accepts(_ acceptEncoding: String?) -> Bool {
        guard let acceptEncoding else { return false }
        for member in acceptEncoding.split(separator: ",") {
            let parts = member.split(separator: ";")
            guard let coding = parts.first?.trimmingASCIISpaces(), coding == "gzip" || coding == "*" || coding == "x-gzip" else {
                continue
            }
            let refused = parts.dropFirst().contains { parameter in
                let trimmed = parameter.trimmingASCIISpaces()
                return trimmed.hasPrefix("q=") && (Double(trimmed.dropFirst(2)) ?? 1) == 0
            }
            return !refused
        }
        return false
    }

    /// Compresses the response in place when the request accepts gzip, the type is text-like,
    /// the body is at least `minimumBytes`, and it is not encoded already. Adds `Vary: Accept-Encoding`
    /// to every response that could be compressed so caches keep the variants apart, and gives a
    /// compressed response with a strong ETag the tag of its gzip variant (`EntityTag.gzipVariant`).
    static func apply(to response: inout HTTPResponse, request: HTTPRequestHead, minimumBytes: Int) {
        guard response.body.count >= minimumBytes, response.headers["Content-Encoding"] == nil,
              let type = response.headers["Content-Type"], isCompressible(contentType: type) else { return }
        if response.headers["Vary"] == nil { response.headers.add("Vary", "Accept-Encoding") }
        guard accepts(request.headers["Accept-Encoding"]),
              let compressed = compress(response.body), compressed.count < response.body.count else { return }
        response.body = compressed
        response.headers.add("Content-Encoding", "gzip")
        if let tag = response.headers["ETag"] { response.headers.replaceOrAdd("ETag", EntityTag.gzipVariant(of: tag)) }
    }

    /// The last steps of every handler's answer: compression (`apply`), then If-None-Match
    /// against the tag of the representation actually chosen.
    static func finish(_ response: inout HTTPResponse, request: HTTPRequestHead, minimumBytes: Int) {
        apply(to: &response, request: request, minimumBytes: minimumBytes)
        EntityTag.applyIfNoneMatch(to: &response, request: request)
    }
}
