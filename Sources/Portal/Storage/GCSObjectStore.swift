import ETL
import GoogleCloud

/// The `ObjectStore` contract over a Cloud Storage bucket: objects are written with
/// resumable uploads that never overwrite (`ifGenerationMatch=0`) and checked by CRC32C
/// and MD5; URIs are `gs://bucket/name`.
public final class GCSObjectStore: ObjectStore {
    public let client: StorageClient
    public let bucket: String
    /// Put in front of every object name (e.g. `raw/`).
    public let prefix: String

    public init(client: StorageClient, bucket: String, prefix: String = "") {
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
    }

    public func create(name: String, contentType: String) throws -> any ObjectWriter {
        let objectName = prefix + name
        let upload = try client.beginResumableUpload(bucket: bucket, name: objectName, contentType: contentType, ifGenerationMatch: 0)
        return GCSObjectWriter(upload: upload, uri: "gs://\(bucket)/\(objectName)")
    }

    public func open(uri: String) throws -> any ObjectReader {
        guard uri.hasPrefix("gs://") else { throw GoogleCloudError.configuration("not a gs:// URI: \(uri)") }
        let path = uri.dropFirst("gs://".count)
        guard let slash = path.firstIndex(of: "/"), path.index(after: slash) < path.endIndex else {
            throw GoogleCloudError.configuration("no object name in \(uri)")
        }
        let download = try client.download(bucket: String(path[..<slash]), name: String(path[path.index(after: slash)...]))
        return GCSObjectReader(download: download)
    }

    /// Sends a copy of the file with a resumable upload; the file stays where it is.
    public func store(localFile path: String, name: String, contentType: String) throws -> StoredLocalFile {
        let writer = try create(name: name, contentType: contentType)
        do {
            try FileSystem.readChunks(of: path, failure: { .storage("cannot read \(path): \($0)") }) { try writer.write($0) }
            return StoredLocalFile(object: try writer.finish(), localFileRemains: true)
        } catch {
            writer.abort()
            throw error
        }
    }

    public func checkReady() throws {
        try client.checkBucket(bucket)
    }

    public func delete(uri: String) throws {
        guard uri.hasPrefix("gs://") else { throw GoogleCloudError.configuration("not a gs:// URI: \(uri)") }
        let path = uri.dropFirst("gs://".count)
        guard let slash = path.firstIndex(of: "/") else { throw GoogleCloudError.configuration("no object name in \(uri)") }
        _ = try client.deleteObject(bucket: String(path[..<slash]), name: String(path[path.index(after: slash)...]))
    }
}

/// One object being written through a resumable upload session. Not shared between threads.
final class GCSObjectWriter: ObjectWriter {
    let upload: ResumableUpload
    let uri: String

    init(upload: ResumableUpload, uri: String) {
        self.upload = upload
        self.uri = uri
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try upload.write(bytes)
    }

    func finish() throws -> StoredObject {
        let object = try upload.finish()
        return StoredObject(uri: uri, sizeBytes: object.sizeBytes)
    }

    func abort() {
        upload.cancel()
    }
}

/// Reads an object back in ranges. Not shared between threads.
final class GCSObjectReader: ObjectReader {
    let download: ObjectDownload

    init(download: ObjectDownload) {
        self.download = download
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try download.read(into: buffer)
    }

    func close() {}

    var generation: String? { download.metadata.generation }
}
