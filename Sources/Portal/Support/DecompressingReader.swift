import ETL
import Support

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
            if Gzip.isGzip(UnsafeRawBufferPointer(rebasing: input[inputStart..<inputEnd])) {
                do { inflater = try GzipInflater(maxBytes: maxBytes) } catch { throw PortalError(error) }
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
            let (taken, written): (Int, Int)
            do {
                (taken, written) = try inflater.inflate(UnsafeRawBufferPointer(rebasing: input[inputStart..<inputEnd]), into: buffer)
            } catch {
                throw PortalError(error)
            }
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
