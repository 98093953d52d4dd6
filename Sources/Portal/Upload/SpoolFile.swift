import Crypto
import ETL
import Glibc
import Support

/// A file in flight: bytes written to a local spool file while their SHA-256,
/// size and UTF-8 validity are computed. The spool lives beside the object store,
/// so that storing it locally is a rename, never a copy. A gzip file is kept as it came; its
/// text is what is checked (decompressed as it arrives, within `maxDecompressedBytes` and
/// zlib's ratio cap, so that a decompression bomb is refused while it arrives).
final class SpoolFile {
    let path: String
    private var fd: Int32
    private var hasher = SHA256()
    private var validator = UTF8Validator()
    private(set) var size: Int64 = 0
    private(set) var sawNUL = false
    private var finished = false
    private let maxDecompressedBytes: Int64
    /// The first bytes, until there are two to tell gzip by.
    private var head: [UInt8] = []
    private var decided = false
    private var inflater: GzipInflater?
    private var scratch: UnsafeMutableRawBufferPointer?

    init(directory: String, maxDecompressedBytes: Int64 = 4 << 30) throws(PortalError) {
        self.maxDecompressedBytes = maxDecompressedBytes
        path = "\(directory)/\(FileSystem.temporaryName()).part"
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .storage("cannot create spool file: \(FileSystem.lastError())") }
    }

    deinit {
        if !finished { discard() }
        scratch?.deallocate()
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else { return }
        hasher.update(bufferPointer: bytes)
        try FileSystem.writeAll(fd: fd, bytes)
        size += Int64(bytes.count)
        if decided {
            try check(bytes)
            return
        }
        head.append(contentsOf: bytes)
        guard head.count >= 2 else { return }
        try decide()
    }

    /// Tells gzip from plain text by the first bytes, and checks what was held back.
    private func decide() throws {
        decided = true
        if Gzip.isGzip(head) {
            do { inflater = try GzipInflater(maxBytes: maxDecompressedBytes) } catch { throw PortalError(error) }
            scratch = .allocate(byteCount: 256 << 10, alignment: 16)
        }
        let held = head
        head = []
        try held.withUnsafeBytes { try check($0) }
    }

    /// Feeds the text checks (UTF-8, NUL) with the file's text: its bytes, or decompressed.
    private func check(_ bytes: UnsafeRawBufferPointer) throws {
        guard let inflater, let scratch else {
            checkText(bytes)
            return
        }
        var offset = 0
        while offset < bytes.count {
            let (taken, written): (Int, Int)
            do {
                (taken, written) = try inflater.inflate(UnsafeRawBufferPointer(rebasing: bytes[offset...]), into: scratch)
            } catch {
                throw PortalError(error)
            }
            offset += taken
            checkText(UnsafeRawBufferPointer(rebasing: scratch[0..<written]))
            if taken == 0 && written == 0 { break }
        }
    }

    private func checkText(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        validator.feed(bytes)
        if !sawNUL, memchr(bytes.baseAddress!, 0, bytes.count) != nil { sawNUL = true }
    }

    /// Closes the file and returns what was learned about its content. (A file is made durable
    /// when it is stored, not here: a file that turns out to be loaded already is only deleted.)
    func finish() -> SpooledContent {
        if fd >= 0 { close(fd); fd = -1 }
        finished = true
        if !decided { head.withUnsafeBytes { checkText($0) } }
        let digest = hasher.finalize().map { byte in
            let hex = Array("0123456789abcdef".utf8)
            return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
        }.joined()
        return SpooledContent(
            path: path, size: size, sha256: digest,
            encoding: validator.finish() ? .utf8 : .windows1252, containsNUL: sawNUL,
            isGzip: inflater != nil, gzipComplete: inflater?.isComplete ?? true
        )
    }

    /// Closes and deletes the spool file.
    func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(path)
    }
}

/// A finished spool file and its fingerprint.
struct SpooledContent: Sendable {
    let path: String
    let size: Int64
    let sha256: String
    let encoding: TextEncoding
    let containsNUL: Bool
    /// Sent gzip-compressed (kept so; read decompressed).
    var isGzip = false
    /// For a gzip file: whether it ends where its last member ends (else it was cut short).
    var gzipComplete = true
}

/// A file received from a client, spooled and ready to process.
struct ReceivedFile: Sendable {
    /// The client's file name.
    let fileName: String
    let content: SpooledContent
}
