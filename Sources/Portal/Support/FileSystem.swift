import Glibc
import Support

/// The few file-system calls the portal makes, with errors as text.
enum FileSystem {
    /// `mkdir -p`.
    static func makeDirectories(_ path: String) throws(PortalError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw .storage("cannot create folder \(prefix): \(lastError())")
            }
        }
    }

    /// Writes every byte, retrying short writes and interruptions.
    static func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(PortalError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw .storage("write failed: \(lastError())")
            }
            offset += written
        }
    }

    /// Reads the file at `path` to its end in 1 MiB pieces, handing each to `body`. A file that
    /// cannot be opened or read throws `failure` with the reason.
    static func readChunks(
        of path: String, failure: (String) -> PortalError, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(lastError()) }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw failure(lastError()) }
            if count == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    /// An absolute form of `path` (relative to the working directory).
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return normalized(path) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return normalized(cwd + "/" + path)
    }

    /// Removes `.` and empty components (not `..`, which callers reject).
    static func normalized(_ path: String) -> String {
        "/" + path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Flushes a folder's entries (a new name in it) to disk.
    static func syncDirectory(containing path: String) {
        guard let slash = path.lastIndex(of: "/") else { return }
        let fd = open(String(path[..<slash]), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// A unique name for a temporary file, led by this process's id: `{pid}-{id}`.
    static func temporaryName() -> String { "\(getpid())-\(UploadID.make())" }

    /// Deletes temporary files (named by `temporaryName`) whose process is gone: what a killed
    /// process left behind. Files of running processes (a concurrent `ingest`) are kept.
    static func removeAbandonedTemporaryFiles(in folder: String) {
        guard let directory = opendir(folder) else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let dash = name.firstIndex(of: "-"), let pid = pid_t(name[..<dash]) else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                unlink(folder + "/" + name)
            }
        }
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}

/// Upload identifiers: time-ordered, unique without coordination between replicas.
enum UploadID {
    /// 12 hex digits of milliseconds since the epoch, then 8 random hex digits.
    static func make() -> String {
        let millis = UInt64(Clock.nowMicros() / 1000)
        var generator = SystemRandomNumberGenerator()
        let random = UInt32.random(in: .min ... .max, using: &generator)
        return hex(millis, digits: 12) + hex(UInt64(random), digits: 8)
    }

    /// True for text shaped like an id (safe in paths and queries).
    static func isValid(_ text: String) -> Bool {
        text.utf8.count == 20 && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
