import Crypto

/// One resumable upload session (Cloud Storage JSON API, `uploadType=resumable`).
///
/// `write` buffers bytes and sends them in chunks of `chunkSize` (a multiple of 256 KiB)
/// with `Content-Range: bytes FIRST-LAST/*`; the server answers 308 with the range it has.
/// After a dropped connection, a timeout or a 5xx, the retry loop first asks the server
/// where it stands (`Content-Range: bytes */*`, empty body) and resumes exactly at that
/// offset. `finish` sends the rest with the total size, then checks the object's CRC32C
/// and MD5 against the ones computed on the way. Not shared between threads.
public final class ResumableUpload {
    /// The session URI: whoever has it can write the object, so it is never logged.
    public let sessionURL: String
    public let bucket: String
    public let name: String
    public let chunkSize: Int
    let transport: RESTTransport
    let retryPolicy: RetryPolicy
    /// Reads the object's metadata: used when the session is gone after its final chunk.
    let lookupObject: () throws -> ObjectMetadata?
    /// Deletes one generation of the object: a stored object whose checksums are not the bytes sent.
    let deleteGeneration: (String) throws -> Void
    /// True once a final chunk was sent (its answer may have been lost).
    private var finalChunkSent = false

    /// Bytes the server has confirmed.
    public private(set) var committedBytes: Int64 = 0
    /// Bytes written after `committedBytes`, not yet confirmed.
    private var pending: [UInt8] = []
    private var crc = CRC32C()
    private var md5 = Insecure.MD5()
    /// False when the session was resumed from elsewhere: earlier bytes were not seen here.
    private var checksumsCoverObject = true
    /// Number of status queries made after failures (for tests and logs).
    public private(set) var recoveries = 0
    private var result: ObjectMetadata?

    init(sessionURL: String, bucket: String, name: String, chunkSize: Int, transport: RESTTransport, retryPolicy: RetryPolicy,
         lookupObject: @escaping () throws -> ObjectMetadata?, deleteGeneration: @escaping (String) throws -> Void) {
        self.lookupObject = lookupObject
        self.deleteGeneration = deleteGeneration
        self.sessionURL = sessionURL
        self.bucket = bucket
        self.name = name
        self.chunkSize = chunkSize
        self.transport = transport
        self.retryPolicy = retryPolicy
    }

    /// Bytes written so far, confirmed or not.
    public var bytesWritten: Int64 { committedBytes + Int64(pending.count) }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Buffers `bytes`; sends every full chunk.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard result == nil else { throw GoogleCloudError.configuration("write after finish") }
        crc.update(bytes)
        md5.update(bufferPointer: bytes)
        pending.append(contentsOf: bytes)
        while pending.count >= chunkSize {
            let before = committedBytes
            _ = try sendChunk(final: false)
            if committedBytes == before && pending.count >= chunkSize {
                throw GoogleCloudError.invalidResponse("the server accepted none of a \(chunkSize)-byte chunk")
            }
        }
    }

    /// Sends what is left with the total size and returns the stored object, after
    /// checking its checksums against the bytes written.
    public func finish() throws -> ObjectMetadata {
        if let result { return result }
        var stalls = 0
        while true {
            let before = committedBytes
            if let object = try sendChunk(final: true) {
                result = object
                break
            }
            stalls = committedBytes == before ? stalls + 1 : 0
            if stalls >= 3 {
                throw GoogleCloudError.invalidResponse("the server does not complete the upload at \(committedBytes) bytes")
            }
        }
        let object = result!
        if object.sizeBytes != bytesWritten {
            throw GoogleCloudError.checksumMismatch("\(object.uri): stored \(object.sizeBytes) bytes, sent \(bytesWritten)")
        }
        if let expected = checksums {
            do {
                try expected.verify(object)
            } catch {
                // As Google's clients do on corrupted data: the bad generation is removed, the upload fails.
                try? deleteGeneration(object.generation)
                throw error
            }
        }
        return object
    }

    /// The checksums of every byte written, when this session saw them all.
    private var checksums: Checksums? {
        guard checksumsCoverObject else { return nil }
        var digest = md5  // a copy: finalizing it leaves the running one as it is
        return Checksums(crc32c: crc.base64, md5: Base64.encode(Array(digest.finalize())))
    }

    /// Abandons the session; the server discards what it has. Errors are ignored.
    public func cancel() {
        guard result == nil else { return }
        _ = try? transport.sendOnce(HTTPRequest(method: "DELETE", url: sessionURL), accepted: 200...499)
    }

    /// Asks the server for its offset and continues from there (a session resumed by URL).
    func adoptServerOffset() throws {
        checksumsCoverObject = false
        let object = try RetryLoop.run(policy: retryPolicy, idempotent: true) { _ in try queryStatus(adopting: true) }
        if let object { result = object }
    }

    /// Sends one chunk (or, when `final`, everything left). Returns the object when the upload completed.
    private func sendChunk(final: Bool) throws -> ObjectMetadata? {
        try RetryLoop.run(policy: retryPolicy, idempotent: true) { attempt -> ObjectMetadata? in
            if attempt > 1 {
                recoveries += 1
                if let object = try queryStatus(adopting: false) { return object }
            }
            let count = final ? pending.count : chunkSize
            if !final && pending.count < count { return nil }  // the server took more than we thought
            let first = committedBytes
            let total = final ? String(committedBytes + Int64(pending.count)) : "*"
            let range = count == 0 ? "bytes */\(total)" : "bytes \(first)-\(first + Int64(count) - 1)/\(total)"
            var request = HTTPRequest(method: "PUT", url: sessionURL,
                                      body: .bytes(count == pending.count ? pending : Array(pending[0..<count])))
            request.addHeader("Content-Range", range)
            if final {
                finalChunkSent = true
                // Cloud Storage itself refuses the object when the bytes it got are not these.
                if let checksums { request.addHeader("x-goog-hash", "crc32c=\(checksums.crc32c),md5=\(checksums.md5)") }
            }
            return try handle(transport.sendOnce(request, accepted: 200...308))
        }
    }

    /// The status query of the protocol. Nil while incomplete (offset adopted), the object once complete.
    private func queryStatus(adopting: Bool) throws -> ObjectMetadata? {
        var request = HTTPRequest(method: "PUT", url: sessionURL, body: .bytes([]))
        request.addHeader("Content-Range", "bytes */*")
        let response: HTTPResponse
        do {
            response = try transport.sendOnce(request, accepted: 200...308)
        } catch let error as GoogleCloudError where error.httpStatus == 404 && finalChunkSent {
            // Some servers forget a session once it completed: the lost answer was a success
            // if the object is there with this upload's size (checksums are checked by finish).
            if let object = try lookupObject(), object.sizeBytes == bytesWritten {
                pending.removeAll()
                committedBytes = object.sizeBytes
                return object
            }
            throw error
        }
        if response.status == 308 {
            let offset = try Self.committedOffset(response)
            if adopting { committedBytes = offset } else { try advance(to: offset) }
            return nil
        }
        return try handle(response)
    }

    private func handle(_ response: HTTPResponse) throws -> ObjectMetadata? {
        switch response.status {
        case 308:
            try advance(to: Self.committedOffset(response))
            return nil
        case 200, 201:
            let object = try StorageClient.decodeObject(response.body)
            pending.removeAll()
            committedBytes = object.sizeBytes
            return object
        default:
            throw StatusMapping.error(status: response.status, body: response.body)
        }
    }

    /// Drops the bytes the server now has from the front of the buffer.
    private func advance(to serverOffset: Int64) throws {
        if serverOffset < committedBytes || serverOffset > committedBytes + Int64(pending.count) {
            throw GoogleCloudError.invalidResponse(
                "server holds \(serverOffset) bytes; this upload has \(committedBytes)…\(committedBytes + Int64(pending.count))")
        }
        pending.removeFirst(Int(serverOffset - committedBytes))
        committedBytes = serverOffset
    }

    /// The offset after the `Range: bytes=0-N` of a 308 (0 when the header is absent).
    static func committedOffset(_ response: HTTPResponse) throws -> Int64 {
        guard let range = response.header("range") else { return 0 }
        guard let dash = range.lastIndex(of: "-"), let last = Int64(range[range.index(after: dash)...]) else {
            throw GoogleCloudError.invalidResponse("unreadable Range header in a 308 answer: \(range)")
        }
        return last + 1
    }
}
