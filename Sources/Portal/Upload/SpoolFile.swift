import Crypto
import ETL
import Glibc

/// A file in flight: bytes written to a local spool file while their SHA-256,
/// size and UTF-8 validity are computed. The spool lives beside the object store,
/// so that storing it locally is a rename, never a copy.
final class SpoolFile {
    let path: String
    private var fd: Int32
    private var hasher = SHA256()
    private var validator = UTF8Validator()
    private(set) var size: Int64 = 0
    private(set) var sawNUL = false
    private var finished = false

    init(directory: String) throws(PortalError) {
        path = "\(directory)/\(FileSystem.temporaryName()).part"
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .storage("cannot create spool file: \(FileSystem.lastError())") }
    }

    deinit { if !finished { discard() } }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else { return }
        hasher.update(bufferPointer: bytes)
        validator.feed(bytes)
        if !sawNUL, memchr(bytes.baseAddress!, 0, bytes.count) != nil { sawNUL = true }
        try FileSystem.writeAll(fd: fd, bytes)
        size += Int64(bytes.count)
    }

    /// Closes the file and returns what was learned about its content. (A file is made durable
    /// when it is stored, not here: a file that turns out to be loaded already is only deleted.)
    func finish() -> SpooledContent {
        if fd >= 0 { close(fd); fd = -1 }
        finished = true
        let digest = hasher.finalize().map { byte in
            let hex = Array("0123456789abcdef".utf8)
            return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
        }.joined()
        return SpooledContent(
            path: path, size: size, sha256: digest,
            encoding: validator.finish() ? .utf8 : .windows1252, containsNUL: sawNUL
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
}

/// A file received from a client, spooled and ready to process.
struct ReceivedFile: Sendable {
    /// The client's file name.
    let fileName: String
    let content: SpooledContent
}
