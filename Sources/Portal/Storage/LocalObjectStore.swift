import ETL
import Glibc

/// Objects as files below one folder: the embedded deployment's object store.
/// Objects are written under a temporary name and linked into place when finished,
/// so a reader never sees half an object and an existing object is never overwritten.
public final class LocalObjectStore: ObjectStore {
    /// The folder objects live under (absolute).
    public let root: String

    public init(root: String) throws(PortalError) {
        self.root = root
        try FileSystem.makeDirectories(root)
        try FileSystem.makeDirectories(root + "/.partial")
        FileSystem.removeAbandonedTemporaryFiles(in: root + "/.partial")
    }

    public func create(name: String, contentType: String) throws -> any ObjectWriter {
        let path = try destination(for: name)
        let temporary = "\(root)/.partial/\(FileSystem.temporaryName())"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PortalError.storage("cannot create \(name): \(FileSystem.lastError())") }
        return LocalObjectWriter(fd: fd, temporaryPath: temporary, finalPath: path)
    }

    public func store(localFile path: String, name: String, contentType: String) throws -> StoredLocalFile {
        StoredLocalFile(object: try adopt(file: path, name: name), localFileRemains: false)
    }

    /// Moves a finished local file (on the same file system) into the store under `name`, without
    /// copying, and makes it durable: the stored raw file is the source of truth.
    public func adopt(file: String, name: String) throws(PortalError) -> StoredObject {
        let path = try destination(for: name)
        let fd = Glibc.open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .storage("cannot open \(file): \(FileSystem.lastError())") }
        let synced = fsync(fd)
        close(fd)
        guard synced == 0 else { throw .storage("cannot make \(name) durable: \(FileSystem.lastError())") }
        guard link(file, path) == 0 else { throw PortalError.storage("cannot store \(name): \(FileSystem.lastError())") }
        unlink(file)
        FileSystem.syncDirectory(containing: path)
        var info = stat()
        stat(path, &info)
        return StoredObject(uri: "file://" + path, sizeBytes: Int64(info.st_size))
    }

    public func open(uri: String) throws -> any ObjectReader {
        let path = try localPath(of: uri)
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PortalError.storage("cannot open \(uri): \(FileSystem.lastError())") }
        return LocalObjectReader(fd: fd)
    }

    /// Removes an object (a duplicate that will not be loaded).
    public func remove(uri: String) {
        if let path = try? localPath(of: uri) { unlink(path) }
    }

    public func delete(uri: String) throws {
        let path = try localPath(of: uri)
        guard unlink(path) == 0 || errno == ENOENT else { throw PortalError.storage("cannot delete \(uri): \(FileSystem.lastError())") }
    }

    public func checkReady() throws {
        let probe = "\(root)/.partial/ready-\(UploadID.make())"
        let fd = Glibc.open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PortalError.storage("object folder \(root) is not writable: \(FileSystem.lastError())") }
        close(fd)
        unlink(probe)
    }

    private func destination(for name: String) throws(PortalError) -> String {
        guard !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
            throw .storage("invalid object name \(name)")
        }
        let path = "\(root)/\(name)"
        if let slash = path.lastIndex(of: "/") { try FileSystem.makeDirectories(String(path[..<slash])) }
        return path
    }

    private func localPath(of uri: String) throws(PortalError) -> String {
        guard uri.hasPrefix("file://") else { throw .storage("not a local object: \(uri)") }
        let path = String(uri.dropFirst("file://".count))
        guard path.hasPrefix(root + "/") else { throw .storage("object outside the store: \(uri)") }
        return path
    }
}

/// Writes one object to a temporary file; `finish` links it to its name.
final class LocalObjectWriter: ObjectWriter {
    let uri: String
    private var fd: Int32
    private let temporaryPath: String
    private let finalPath: String
    private var size: Int64 = 0

    init(fd: Int32, temporaryPath: String, finalPath: String) {
        self.fd = fd
        self.temporaryPath = temporaryPath
        self.finalPath = finalPath
        self.uri = "file://" + finalPath
    }

    deinit { abort() }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try FileSystem.writeAll(fd: fd, bytes)
        size += Int64(bytes.count)
    }

    func finish() throws -> StoredObject {
        guard fd >= 0 else { throw PortalError.storage("object already closed") }
        fsync(fd)
        close(fd)
        fd = -1
        defer { unlink(temporaryPath) }
        guard link(temporaryPath, finalPath) == 0 else {
            throw PortalError.storage("cannot store object \(finalPath): \(FileSystem.lastError())")
        }
        FileSystem.syncDirectory(containing: finalPath)
        return StoredObject(uri: uri, sizeBytes: size)
    }

    func abort() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
        unlink(temporaryPath)
    }
}

/// Reads one local object.
final class LocalObjectReader: ObjectReader {
    private var fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close() }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw PortalError.storage("read failed: \(FileSystem.lastError())")
        }
    }

    func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }
}
