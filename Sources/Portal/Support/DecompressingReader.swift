import CNative
import ETL

/// Streaming gzip decompression with zlib, a piece at a time, with caps that make a
/// decompression bomb an error instead of a full disk: at most `maxBytes` out, and after the
/// first MiB at most `maxRatio` bytes out per byte in. Concatenated gzip members are read on.
final class GzipInflater {
    /// The two bytes every gzip stream starts with.
    static func isGzip(_ head: some Collection<UInt8>) -> Bool {
        head.count >= 2 && head[head.startIndex] == 0x1f && head[head.index(after: head.startIndex)] == 0x8b
    }

    private let stream: UnsafeMutablePointer<z_stream>
    let maxBytes: Int64
    let maxRatio: Int64
    private(set) var bytesIn: Int64 = 0
    private(set) var bytesOut: Int64 = 0
    /// True between members: the last one ended and no byte of another has come.
    private(set) var atMemberEnd = false

    init(maxBytes: Int64, maxRatio: Int64 = 200) throws(PortalError) {
        self.maxBytes = maxBytes
        self.maxRatio = maxRatio
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard cn_inflate_init_gzip(stream) == Z_OK else {
            stream.deallocate()
            throw .storage("zlib could not start decompressing")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Whether the input so far ends at the end of a gzip member (else the file was cut short).
    var isComplete: Bool { atMemberEnd }

    /// Decompresses `input` into `output` as far as both go; returns (bytes taken, bytes written).
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(PortalError) -> (taken: Int, written: Int) {
        guard !input.isEmpty, !output.isEmpty else { return (0, 0) }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_out = uInt(output.count)
        var status = Z_OK
        while stream.pointee.avail_in > 0 && stream.pointee.avail_out > 0 {
            if atMemberEnd {
                // Another member follows (as `cat a.gz b.gz` makes).
                guard inflateReset(stream) == Z_OK else { throw .badRequest(code: "bad_gzip", message: "the gzip file is damaged") }
                atMemberEnd = false
            }
            status = CNative.inflate(stream, Z_NO_FLUSH)
            if status == Z_STREAM_END {
                atMemberEnd = true
            } else if status != Z_OK {
                throw .badRequest(code: "bad_gzip", message: "the gzip file is damaged (zlib: \(status))")
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

/// Reads a stored file as text: a gzip file decompressed as it streams, any other as it is.
final class DecompressingReader: ObjectReader {
    private let source: any ObjectReader
    private let maxBytes: Int64
    private var inflater: GzipInflater?
    private var decided = false
    private var input: UnsafeMutableRawBufferPointer
    private var inputStart = 0
    private var inputEnd = 0
    private var sourceEnded = false
    /// Bytes read from the stored file (compressed ones for a gzip file).
    private(set) var storedBytesRead: Int64 = 0

    init(_ source: any ObjectReader, maxBytes: Int64) {
        self.source = source
        self.maxBytes = maxBytes
        input = .allocate(byteCount: 256 << 10, alignment: 16)
    }

    deinit { input.deallocate() }

    /// Whether the file turned out to be gzip (known after the first read).
    var isGzip: Bool { inflater != nil }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if !decided {
            try refill()
            decided = true
            if GzipInflater.isGzip(UnsafeRawBufferPointer(rebasing: input[inputStart..<inputEnd])) {
                inflater = try GzipInflater(maxBytes: maxBytes)
            }
        }
        guard let inflater else {
            if inputStart < inputEnd {
                let count = min(buffer.count, inputEnd - inputStart)
                buffer.baseAddress!.copyMemory(from: input.baseAddress! + inputStart, byteCount: count)
                inputStart += count
                return count
            }
            let count = try source.read(into: buffer)
            storedBytesRead += Int64(count)
            return count
        }
        while true {
            if inputStart == inputEnd {
                if sourceEnded {
                    guard inflater.isComplete else {
                        throw PortalError.badRequest(code: "bad_gzip", message: "the gzip file is cut short")
                    }
                    return 0
                }
                try refill()
                continue
            }
            let (taken, written) = try inflater.inflate(
                UnsafeRawBufferPointer(rebasing: input[inputStart..<inputEnd]), into: buffer)
            inputStart += taken
            if written > 0 { return written }
        }
    }

    private func refill() throws {
        inputStart = 0
        inputEnd = try source.read(into: input)
        storedBytesRead += Int64(inputEnd)
        if inputEnd == 0 { sourceEnded = true }
    }

    func close() { source.close() }
}
