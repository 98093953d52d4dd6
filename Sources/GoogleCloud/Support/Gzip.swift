import CNative

/// gzip compression through zlib, for request bodies.
public enum Gzip {
    /// The gzip stream of `input`. `level` 1 (fast) … 9 (small).
    public static func compress(_ input: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        var stream = z_stream()
        guard cn_deflate_init_gzip(&stream, level) == Z_OK else {
            throw GoogleCloudError.configuration("zlib deflate could not start")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 32)
        let status: Int32 = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                stream.next_in = UnsafeMutablePointer(mutating: source.bindMemory(to: Bytef.self).baseAddress)
                stream.avail_in = uInt(source.count)
                stream.next_out = destination.bindMemory(to: Bytef.self).baseAddress
                stream.avail_out = uInt(destination.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else {
            throw GoogleCloudError.configuration("zlib deflate failed with \(status)")
        }
        // The bound is about the input's size: keep only what was written.
        return Array(output[0..<Int(stream.total_out)])
    }
}
