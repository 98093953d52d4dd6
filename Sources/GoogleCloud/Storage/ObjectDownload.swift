import Crypto

/// Reads an object in ranges (`alt=media`, `Range: bytes=…`), pinned to one generation,
/// so memory stays bounded and a failed range is simply asked for again. The CRC32C of
/// everything read is checked against the object's at the end. Not shared between threads.
public final class ObjectDownload {
    public let metadata: ObjectMetadata
    let url: String
    let rangeSize: Int
    let transport: RESTTransport
    private var buffer: [UInt8] = []
    private var bufferOffset = 0
    /// Bytes of the object fetched so far.
    private var fetched: Int64 = 0
    private var crc = CRC32C()
    private var verified = false

    init(metadata: ObjectMetadata, url: String, rangeSize: Int, transport: RESTTransport) {
        self.metadata = metadata
        self.url = url
        self.rangeSize = rangeSize
        self.transport = transport
    }

    /// Fills the front of `destination`; returns the count, 0 at the end of the object.
    public func read(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        if bufferOffset == buffer.count {
            guard fetched < metadata.sizeBytes else {
                try verifyOnce()
                return 0
            }
            try fetchNextRange()
        }
        let count = min(destination.count, buffer.count - bufferOffset)
        buffer.withUnsafeBytes { source in
            destination.baseAddress!.copyMemory(from: source.baseAddress! + bufferOffset, byteCount: count)
        }
        bufferOffset += count
        return count
    }

    private func fetchNextRange() throws {
        let last = min(fetched + Int64(rangeSize), metadata.sizeBytes) - 1
        var request = HTTPRequest(method: "GET", url: "\(url)?alt=media&generation=\(metadata.generation)")
        request.addHeader("Range", "bytes=\(fetched)-\(last)")
        let response = try transport.send(request, idempotent: true)
        var body = response.body
        if response.status == 200 {
            // A server that ignores Range sends the whole object.
            guard Int64(body.count) == metadata.sizeBytes else {
                throw GoogleCloudError.invalidResponse("expected \(metadata.sizeBytes) bytes, got \(body.count)")
            }
            body = Array(body[Int(fetched)...])
        } else if Int64(body.count) != last - fetched + 1 {
            throw GoogleCloudError.invalidResponse("range \(fetched)-\(last) answered with \(body.count) bytes")
        }
        crc.update(body)
        fetched += Int64(body.count)
        buffer = body
        bufferOffset = 0
    }

    private func verifyOnce() throws {
        guard !verified else { return }
        verified = true
        if let stored = metadata.crc32c, stored != crc.base64 {
            throw GoogleCloudError.checksumMismatch("\(metadata.uri): read crc32c \(crc.base64), stored \(stored)")
        }
    }
}
