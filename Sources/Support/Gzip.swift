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

/// A gzip stream written piece by piece: the uncompressed bytes never need to exist whole.
/// Not shared between threads.
public final class GzipWriter {
    private var stream = z_stream()
    private var output: [UInt8] = []
    private var finished = false
    /// Uncompressed bytes taken so far.
    public private(set) var inputBytes = 0

    /// A stream at zlib `level` 1 (fast) … 9 (small).
    public init(level: Int32) throws {
        guard cn_deflate_init_gzip(&stream, level) == Z_OK else {
            throw GoogleCloudError.configuration("zlib deflate could not start")
        }
        output.reserveCapacity(64 * 1024)
    }

    deinit { deflateEnd(&stream) }

    /// Compresses `bytes` into the stream.
    public func write(_ bytes: [UInt8]) throws {
        inputBytes += bytes.count
        try run(bytes, flush: Z_NO_FLUSH)
    }

    /// Ends the stream and returns the compressed bytes.
    public func finish() throws -> [UInt8] {
        if !finished {
            try run([], flush: Z_FINISH)
            finished = true
        }
        return output
    }

    private func run(_ input: [UInt8], flush: Int32) throws {
        try input.withUnsafeBytes { source in
            stream.next_in = UnsafeMutablePointer(mutating: source.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(source.count)
            var chunk = [UInt8](repeating: 0, count: 32 * 1024)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBytes { destination -> (Int32, Int) in
                    stream.next_out = destination.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_out = uInt(destination.count)
                    let status = deflate(&stream, flush)
                    return (status, destination.count - Int(stream.avail_out))
                }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_STREAM_END { return }
                guard status == Z_OK || status == Z_BUF_ERROR else {
                    throw GoogleCloudError.configuration("zlib deflate failed with \(status)")
                }
                if flush == Z_NO_FLUSH && stream.avail_in == 0 { return }
                if status == Z_BUF_ERROR && produced == 0 { return }
            }
        }
    }
}
