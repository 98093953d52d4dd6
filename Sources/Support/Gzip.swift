// gzip through zlib: whole buffers, a writer fed piece by piece, and an inflater with caps.

import CZlib

/// What can go wrong with gzip.
public enum GzipError: Error, Equatable, Sendable {
    /// zlib could not start (no memory).
    case unavailable
    /// The data is not a well-formed gzip stream; zlib's words.
    case damaged(String)
    /// The data decompresses to more than the caps allow; says which.
    case tooLarge(String)
    /// Compressing failed; zlib's words.
    case compressionFailed(String)
}

/// gzip of whole buffers.
public enum Gzip {
    /// The gzip encoding of `bytes` at zlib `level` 1 (fast) … 9 (small), or nil if zlib fails.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8]? {
        var stream = z_stream()
        guard cn_deflate_init_gzip(&stream, level) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        // The bound is about the input's size: only what was written is kept.
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 32)
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

    /// Whether bytes start as every gzip stream does (1f 8b).
    public static func isGzip(_ head: some Collection<UInt8>) -> Bool {
        head.count >= 2 && head[head.startIndex] == 0x1f && head[head.index(after: head.startIndex)] == 0x8b
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
    public init(level: Int32) throws(GzipError) {
        guard cn_deflate_init_gzip(&stream, level) == Z_OK else {
            throw .unavailable
        }
        output.reserveCapacity(64 * 1024)
    }

    deinit { deflateEnd(&stream) }

    /// Compresses `bytes` into the stream.
    public func write(_ bytes: [UInt8]) throws(GzipError) {
        inputBytes += bytes.count
        try run(bytes, flush: Z_NO_FLUSH)
    }

    /// Ends the stream and returns the compressed bytes.
    public func finish() throws(GzipError) -> [UInt8] {
        if !finished {
            try run([], flush: Z_FINISH)
            finished = true
        }
        return output
    }

    private func run(_ input: [UInt8], flush: Int32) throws(GzipError) {
        let failure: Int32? = input.withUnsafeBytes { source in
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
                if status == Z_STREAM_END { return nil }
                guard status == Z_OK || status == Z_BUF_ERROR else { return status }
                if flush == Z_NO_FLUSH && stream.avail_in == 0 { return nil }
                if status == Z_BUF_ERROR && produced == 0 { return nil }
            }
        }
        if let failure { throw .compressionFailed("zlib deflate failed with \(failure)") }
    }
}

/// Streaming gzip decompression with zlib, a piece at a time, with caps that make a
/// decompression bomb an error instead of a full disk: at most `maxBytes` out, and after the
/// first MiB at most `maxRatio` bytes out per byte in. Concatenated gzip members are read on.
public final class GzipInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    public let maxBytes: Int64
    public let maxRatio: Int64
    public private(set) var bytesIn: Int64 = 0
    public private(set) var bytesOut: Int64 = 0
    /// True between members: the last one ended and no byte of another has come.
    private(set) var atMemberEnd = false

    public init(maxBytes: Int64, maxRatio: Int64 = 200) throws(GzipError) {
        self.maxBytes = maxBytes
        self.maxRatio = maxRatio
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard cn_inflate_init_gzip(stream) == Z_OK else {
            stream.deallocate()
            throw .unavailable
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Whether the input so far ends at the end of a gzip member (else the file was cut short).
    public var isComplete: Bool { atMemberEnd }

    /// Decompresses `input` into `output` as far as both go; returns (bytes taken, bytes written).
    public func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(GzipError) -> (taken: Int, written: Int) {
        guard !input.isEmpty, !output.isEmpty else { return (0, 0) }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_out = uInt(output.count)
        var status = Z_OK
        while stream.pointee.avail_in > 0 && stream.pointee.avail_out > 0 {
            if atMemberEnd {
                // Another member follows (as `cat a.gz b.gz` makes).
                guard inflateReset(stream) == Z_OK else { throw .damaged("the gzip file is damaged") }
                atMemberEnd = false
            }
            status = CZlib.inflate(stream, Z_NO_FLUSH)
            if status == Z_STREAM_END {
                atMemberEnd = true
            } else if status != Z_OK {
                throw .damaged("the gzip file is damaged (zlib: \(status))")
            }
        }
        let taken = input.count - Int(stream.pointee.avail_in)
        let written = output.count - Int(stream.pointee.avail_out)
        bytesIn += Int64(taken)
        bytesOut += Int64(written)
        if bytesOut > maxBytes {
            throw .tooLarge("the file decompresses to more than \(maxBytes) bytes")
        }
        if bytesOut > (1 << 20) && bytesOut > bytesIn * maxRatio {
            throw .tooLarge("the file decompresses to more than \(maxRatio) times its size: refused as a decompression bomb")
        }
        return (taken, written)
    }
}
